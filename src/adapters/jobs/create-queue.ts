import type PgBoss from 'pg-boss';

/** Creates a pg-boss queue unless it exists (the options of an existing queue are left as they are). */
export type CreateQueue = (name: string, options: Omit<PgBoss.Queue, 'name'>) => Promise<void>;
