import type { FastifyReply } from 'fastify';
import type { Json } from '../../ports/cache.js';

/**
 * Sends JSON text as it is: Fastify serialises only objects, so a cached answer goes out without being parsed
 * and encoded again. The text was produced from the same view the route's response schema describes.
 */
export function sendJson<T>(reply: FastifyReply, json: Json<T>): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
