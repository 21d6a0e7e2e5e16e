--! Previous: sha1:d53f9075a0336a6e0dbd9e8161b43b4dae85b3b4
--! Hash: sha1:70d2706cdfdee8cd60c8375f58e17ad1793aaad2
--! Message: Unicode whitespace trimmed; tag length judged after trimming

/*
 * Whitespace, properly. Titles, list names and tags are trimmed of every Unicode
 * space (no-break, ideographic, line separators …), not only ASCII ones, so a
 * title of nothing but U+00A0 is as empty as "   ". And a tag's length is judged
 * after trimming, as documented: the domain check sees the raw input, before the
 * normalising trigger has run.
 * Idempotent: `create or replace` and drop-then-add. `not valid`: Postgres cannot
 * re-check a domain used inside an array column; stored tags are already trimmed
 * and 1–50 characters, which the new rule accepts.
 */
create or replace function app_private.tg_lists__normalize() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  begin
    new.name := btrim(new.name, E' \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff');
    return new;
  end;
  $$;

create or replace function app_private.tg_tasks__normalize() returns trigger
  language plpgsql volatile
  set search_path = pg_catalog, pg_temp
  as $$
  declare
    blank constant text := E' \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
  begin
    new.title := btrim(new.title, blank);
    new.tags := array(
      select t
      from (
        select btrim(tag::text, blank) as t, min(ord) as first_seen
        from unnest(new.tags) with ordinality as u(tag, ord)
        group by 1
      ) distinct_tags
      order by first_seen
    )::app_public.tag[];
    return new;
  end;
  $$;

alter domain app_public.tag drop constraint if exists tag_length;
alter domain app_public.tag add constraint tag_length check (
  value is not null
  and char_length(btrim(value, E' \t\n\u000b\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff')) between 1 and 50
) not valid;
