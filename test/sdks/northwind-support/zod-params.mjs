// zodParams turns a tool's { name: 'string' | 'number' } parameters into
// the SDK's zod object schema (z is the SDK's own zod).
export function zodParams(z, params) {
  return z.object(Object.fromEntries(Object.entries(params).map(([k, ty]) => [k, ty === 'number' ? z.number() : z.string()])));
}
