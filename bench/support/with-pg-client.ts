import pg from 'pg';

/**
 * Runs `work` on one connection to `url`, then closes it. A connection the server ends while it is idle
 * surfaces as a failed query, not as an uncaught 'error' event.
 */
export async function withPgClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  let lost: Error | undefined;
  client.on('error', (error) => (lost = error));
  await client.connect();
  try {
    return await work(client);
  } catch (error) {
    throw lost ?? error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
