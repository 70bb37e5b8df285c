/**
 * Form fields to facade input: only shaping (lists split on commas or new lines, blanks left out
 * so the facade's defaults apply); every rule is the facade's, which names a refused field.
 */
export function text(form: URLSearchParams, name: string): string {
  return form.get(name) ?? '';
}

export function optionalText(form: URLSearchParams, name: string): string | undefined {
  const value = text(form, name).trim();
  return value === '' ? undefined : value;
}

export function list(form: URLSearchParams, name: string): string[] | undefined {
  const items = text(form, name)
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item !== '');
  return items.length === 0 ? undefined : items;
}
