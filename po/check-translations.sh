#!/bin/sh
# check-translations.sh SOURCE_ROOT: fails when a file with translatable strings is missing from
# po/POTFILES, or when a language in po/LINGUAS leaves a string untranslated or fuzzy.
# SPDX-License-Identifier: GPL-3.0-or-later
set -eu

root=$1
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# 1. POTFILES is complete: C files that call _( / N_( / ngettext (, .ui files with translatable
#    properties, and the data/ sources that msgfmt merges.
grep -v '^#' po/POTFILES | sed '/^$/d' | sort > "$tmp/listed"
{
  grep -lE '(^|[^A-Za-z0-9_])(_|N_|C_|NC_|ngettext) ?\(' ui/*.c app/*.c 2>/dev/null || true
  grep -l 'translatable="yes"' ui/*.ui 2>/dev/null || true
  ls data/*.desktop.in data/*.metainfo.xml.in data/*.gschema.xml 2>/dev/null || true
} | sort -u > "$tmp/needed"
missing=$(comm -23 "$tmp/needed" "$tmp/listed")
if [ -n "$missing" ]; then
  echo "po/POTFILES lacks: $missing"
  status=1
fi
for f in $(cat "$tmp/listed"); do
  [ -f "$f" ] || { echo "po/POTFILES lists a missing file: $f"; status=1; }
done

# 2. Every language translates every message.
xgettext --files-from=po/POTFILES --output="$tmp/refmask.pot" --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 --keyword=ngettext:1,2 \
  --keyword=g_dngettext:2,3 --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format \
  --flag=g_strdup_printf:1:c-format --package-name=refmask
for lang in $(grep -v '^#' po/LINGUAS); do
  msgmerge --quiet --no-fuzzy-matching "po/$lang.po" "$tmp/refmask.pot" -o "$tmp/$lang.po"
  stats=$(LC_ALL=C msgfmt --check --statistics -o /dev/null "$tmp/$lang.po" 2>&1) || status=1
  echo "$lang: $stats"
  case "$stats" in
    *untranslated* | *fuzzy*)
      status=1
      echo "$lang: these messages are untranslated or fuzzy:"
      LC_ALL=C msgattrib --untranslated "$tmp/$lang.po" | grep '^msgid ' | sed 1d || true
      LC_ALL=C msgattrib --only-fuzzy "$tmp/$lang.po" | grep '^msgid ' | sed 1d || true
      ;;
  esac
  # obsolete entries in the .po are stale work for translators
  if LC_ALL=C msgattrib --only-obsolete "$tmp/$lang.po" | grep -q '^#~'; then
    echo "$lang: po/$lang.po has obsolete messages; run ninja refmask-update-po"
    status=1
  fi
done

exit $status
