import { randomBytes } from 'node:crypto';
import { withPgClient } from './with-pg-client.js';

/**
 * Headers of a fresh administrator of the shop at `shopUrl`: an account signed up over HTTP, promoted in the
 * database (what `npm run admin:create` does), then signed in so its token carries the admin role.
 */
export async function adminAuthorization(
  shopUrl: string,
  databaseUrl: string,
): Promise<{ authorization: string }> {
  const email = `bench-admin-${randomBytes(6).toString('hex')}@example.com`;
  const password = randomBytes(12).toString('hex');
  const post = async (path: string, expected: number) => {
    const response = await fetch(`${shopUrl}/api/v1${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });
    const body = await response.text();
    if (response.status !== expected) throw new Error(`POST ${path} answered ${response.status}: ${body}`);
    return JSON.parse(body) as { accessToken: string };
  };

  await post('/auth/register', 201);
  await withPgClient(databaseUrl, async (client) => {
    const promoted = await client.query(`UPDATE users SET role = 'admin' WHERE email = $1`, [email]);
    if (promoted.rowCount !== 1) throw new Error(`no user ${email} to promote`);
  });
  const { accessToken } = await post('/auth/login', 200);
  return { authorization: `Bearer ${accessToken}` };
}
