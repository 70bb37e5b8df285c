// Express 4 ships no types of its own; the tests only need its app factory.
declare module 'express4' {
  import type { Express } from 'express';

  const createApplication: () => Express;
  export default createApplication;
}
