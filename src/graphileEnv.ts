/**
 * Grafast, pg-sql2, tamedevil and graphile-config each read GRAPHILE_ENV once, when
 * first loaded (grafast/dist/dev.js and the like). So an entry point calls this
 * before anything loads them, and loads PostGraphile only afterwards, with a dynamic
 * import. Development gets the extra checks and readable errors; production does not.
 */
export function setGraphileEnv(env: NodeJS.ProcessEnv): void {
  env.GRAPHILE_ENV ??= env.NODE_ENV === "production" ? "production" : "development";
}
