/** Returns `base` with the given parts of its user, password or database replaced. */
export function connectionString(base: string, parts: { user?: string; password?: string; database?: string }): string {
  const url = new URL(base);
  if (parts.user !== undefined) url.username = encodeURIComponent(parts.user);
  if (parts.password !== undefined) url.password = encodeURIComponent(parts.password);
  if (parts.database !== undefined) url.pathname = `/${encodeURIComponent(parts.database)}`;
  return url.toString();
}
