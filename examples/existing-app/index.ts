import { createExistingApp } from './app.js';

const port = Number(process.env.PORT ?? 3000);
const { app } = createExistingApp({
  publicUrl: process.env.PUBLIC_URL ?? `http://127.0.0.1:${port}`,
  adminToken: process.env.RIALTO_ADMIN_TOKEN,
});
app.listen(port, '127.0.0.1', () => {
  console.log(`Acme Portal on http://127.0.0.1:${port}; the exchange is mounted at /auth`);
});
