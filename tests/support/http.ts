import { randomUUID } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { TestShop } from './test-shop.js';

export type Headers = Record<string, string>;

/** A path of the versioned API. */
export const api = (path: string) => `/api/v1${path}`;

export const bearer = (accessToken: string): Headers => ({ authorization: `Bearer ${accessToken}` });

/** The HTTP API of a test shop, as a client (or an operator) calls it through `app.inject()`. */
export class ApiClient {
  constructor(private readonly shop: Pick<TestShop, 'app' | 'useCases'>) {}

  private get app() {
    if (!this.shop.app) throw new Error('this shop serves no HTTP (role worker)');
    return this.shop.app;
  }

  request(options: InjectOptions): Promise<LightMyRequestResponse> {
    return this.app.inject(options);
  }

  get(path: string, headers: Headers = {}) {
    return this.request({ method: 'GET', url: api(path), headers });
  }

  post(path: string, payload?: unknown, headers: Headers = {}) {
    return this.request({ method: 'POST', url: api(path), headers, payload: payload as object });
  }

  put(path: string, payload?: unknown, headers: Headers = {}) {
    return this.request({ method: 'PUT', url: api(path), headers, payload: payload as object });
  }

  patch(path: string, payload?: unknown, headers: Headers = {}) {
    return this.request({ method: 'PATCH', url: api(path), headers, payload: payload as object });
  }

  delete(path: string, headers: Headers = {}) {
    return this.request({ method: 'DELETE', url: api(path), headers });
  }

  /** A fresh guest session, as `X-Session-Id` headers. */
  async guest(): Promise<Headers> {
    const response = await this.post('/sessions');
    if (response.statusCode !== 201) throw new Error(`POST /sessions answered ${response.statusCode}`);
    return { 'x-session-id': response.json().sessionId };
  }

  /** Registers an account (a fresh e-mail unless one is given) and answers its bearer headers and ids. */
  async registered(
    options: { email?: string; password?: string; headers?: Headers } = {},
  ): Promise<{ headers: Headers; userId: string; email: string; refreshToken: string; body: SignedInBody }> {
    const email = options.email ?? `${randomUUID()}@example.com`;
    const response = await this.post(
      '/auth/register',
      { email, password: options.password ?? 'long enough' },
      options.headers,
    );
    if (response.statusCode !== 201)
      throw new Error(`register answered ${response.statusCode}: ${response.body}`);
    const body = response.json() as SignedInBody;
    return {
      headers: bearer(body.accessToken),
      userId: body.user.id,
      email,
      refreshToken: body.refreshToken,
      body,
    };
  }

  /** Bearer headers of a fresh administrator. */
  async admin(email = `admin-${randomUUID()}@example.com`): Promise<Headers> {
    const { user } = await this.shop.useCases.createAdmin({ email, password: 'admin password' });
    const { accessToken } = await this.app.signAccessToken({ sub: user.id, role: 'admin' });
    return bearer(accessToken);
  }
}

export interface SignedInBody {
  user: { id: string; email: string; role: string };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  merge?: unknown;
}
