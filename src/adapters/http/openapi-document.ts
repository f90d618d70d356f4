import { buildApp, type HttpDeps } from './app.js';

function notServed(): never {
  throw new Error('the documentation app serves no requests');
}

/**
 * The OpenAPI document, generated from the route schemas of the real app. The app is built with adapters that
 * are never called: rendering the document runs no handler.
 */
export async function renderOpenApiYaml(): Promise<string> {
  const unused = new Proxy({}, { get: () => notServed }) as never;
  const deps: HttpDeps = {
    logger: false,
    useCases: unused,
    outbox: unused,
    guestSessions: unused,
    users: unused,
    attemptLimits: unused,
    guestSessionTtlMs: 0,
    clock: { now: () => new Date(0) },
    health: unused,
    config: {
      jwtSecret: 'openapi-document-secret-openapi-document',
      accessTokenTtlSeconds: 900,
      corsOrigin: false,
      publicUrl: 'http://localhost:3000',
    },
  };
  const app = await buildApp(deps);
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}
