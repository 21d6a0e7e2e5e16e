--! Previous: sha1:556557f51be06d59ca4edece503351dfd6e72556
--! Hash: sha1:07f25b4617cfca6392c097cbed4f5449d8266bde
--! Message: Whitespace trimmed by one function, app_private.trim_blank

/*
 * One definition of "blank". Migration 000003 spelled out the set of whitespace
 * characters three times (list names, task titles and tags, the tag domain's
 * length check); it now lives in one function, and those three use it. Nothing
 * else changes: the same characters are trimmed and the same values refused.
 * Idempotent: drops what it creates (the constraint depends on the function) in
 * reverse order; the trigger functions are replaced in place.
 */
alter domain app_public.tag drop constraint if exists tag_length;
drop function if exists app_private.trim_blank(text);

/*
 * Every Unicode White_Space character (ASCII's six, U+0085, no-break and
 * ideographic spaces, line and paragraph separators …) and U+FEFF. Immutable and
 * without settings, so the planner can inline it. `tasks_user` may execute it
 * because the tag domain's check runs as whoever writes a tag; the schema stays
 * closed to request roles, so they cannot call it by name.
 */
create function app_private.trim_blank(value text) returns text
  language sql immutable strict parallel safe
  as $$
    select pg_catalog.btrim(value, E' \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff')
  $$;
grant execute on function app_private.trim_blank(text) to :DATABASE_USER;
comment on function app_private.trim_blank(text) is E'The text without surrounding whitespace, by Unicode''s measure (White_Space and U+FEFF).';

/*
 * The normalising triggers name app_private.trim_blank, and resolving that name
 * needs usage on app_private, which request roles do not have: so they run as the
 * owner (`security definer`, with the pinned search_path). They read and write
 * nothing but the row they are given.
 */
create or replace function app_private.tg_lists__normalize() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    new.name := app_private.trim_blank(new.name);
    return new;
  end;
  $$;

create or replace function app_private.tg_tasks__normalize() returns trigger
  language plpgsql volatile security definer
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    new.title := app_private.trim_blank(new.title);
    new.tags := array(
      select t
      from (
        select app_private.trim_blank(tag::text) as t, min(ord) as first_seen
        from unnest(new.tags) with ordinality as u(tag, ord)
        group by 1
      ) distinct_tags
      order by first_seen
    )::app_public.tag[];
    return new;
  end;
  $$;

/*
 * A tag's length is judged after trimming: the domain sees the raw input, before
 * the normalising trigger has run. `not valid` as in 000003: Postgres cannot
 * re-check a domain used inside an array column, and stored tags already pass.
 */
alter domain app_public.tag add constraint tag_length check (
  value is not null and char_length(app_private.trim_blank(value)) between 1 and 50
) not valid;
