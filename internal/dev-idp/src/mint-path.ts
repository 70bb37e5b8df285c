/** Where the dev IdP mints an ID token for a posted `{ "email": … }`, without the browser flow. */
export const MINT_PATH = '/dev-idp/id-token';
