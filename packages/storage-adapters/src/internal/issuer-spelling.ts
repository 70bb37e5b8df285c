/**
 * Whether a token's `iss`, as an identity stored it, names a registration's normalized issuer:
 * scheme and host compared as the URL parser leaves them, trailing slashes of the path ignored (as
 * core's `normalizeIssuer` does before storing a registration).
 */
export function isSameIssuer(iss: string, issuer: string): boolean {
  const spelling = (value: string) => {
    if (!URL.canParse(value)) return value.replace(/\/+$/, '');
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
  };
  return spelling(iss) === spelling(issuer);
}
