/**
 * Imported first by entry points: Grafast reads GRAPHILE_ENV once, when loaded.
 * Development gets its extra checks and readable errors; production does not.
 */
process.env.GRAPHILE_ENV ??= process.env.NODE_ENV === "production" ? "production" : "development";
