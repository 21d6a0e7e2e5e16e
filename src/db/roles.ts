/**
 * The one reader of .gmrc. The migrations create the roles under the names its
 * placeholders give, so the API takes the names from there too.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import JSON5 from "json5";
import { ROOT_DIR } from "../paths";

/** .gmrc as graphile-migrate reads it (JSON5); scripts/db/migrations.ts hands it to graphile-migrate whole. */
export interface Gmrc {
  placeholders?: Record<string, string>;
  [setting: string]: unknown;
}

export function readGmrc(): Gmrc {
  return JSON5.parse<Gmrc>(readFileSync(path.join(ROOT_DIR, ".gmrc"), "utf8"));
}

export interface RoleNames {
  authenticator: string;
  user: string;
  anonymous: string;
}

export function roleNames(): RoleNames {
  const { placeholders } = readGmrc();
  const placeholder = (key: string): string => {
    const value = placeholders?.[key];
    // "!ENV" would let graphile-migrate take the name from its environment, which the API does not share.
    if (!value || value === "!ENV") throw new Error(`.gmrc must give the placeholder ${key} a role name`);
    return value;
  };
  return {
    authenticator: placeholder(":DATABASE_AUTHENTICATOR"),
    user: placeholder(":DATABASE_USER"),
    anonymous: placeholder(":DATABASE_ANONYMOUS"),
  };
}
