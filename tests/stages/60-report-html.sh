#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Stage: the report's HTML page as a browser shows it.  Two known weeks
# of events are reported with the built tool's "report --html"; headless
# Chromium reads the page into its DOM, whose summary table is checked
# cell by cell, and renders it to a PNG; a small PNG decoder checks that
# the page is not blank and that the chart colours are there (licenses in
# use, the license line, refusals, hours per technician).  The screenshot
# is kept in the build directory and its path printed.
#
#   60-report-html.sh BUILD-DIR ASAN-BUILD-DIR
set -u

build=$(cd "${1:?usage: $0 BUILD-DIR ASAN-BUILD-DIR}" && pwd)
tool="$build/helpdesk-license"
shot="$build/tests/stages/60-report-html.png"
passed=0
failed=0

check() {
	if [ "$1" = 0 ]; then
		passed=$((passed + 1)); echo "PASS: $2"
	else
		failed=$((failed + 1)); echo "FAIL: $2"
	fi
}

browser=""
for name in chromium chromium-browser google-chrome; do
	if command -v "$name" >/dev/null 2>&1; then
		browser=$name
		break
	fi
done
if [ -z "$browser" ] || ! command -v python3 >/dev/null 2>&1; then
	echo "skipped: needs chromium and python3"
	exit 0
fi
if [ ! -x "$tool" ]; then
	echo "FAIL: no built tool at $tool"
	echo "0 passed, 1 failed"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hl-report-html.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
chmod 700 "$work"

cat > "$work/hl.conf" <<CONF
store = "$work/licenses.db";
runtime_store = "$work/sessions.db";
event_log = "$work/events.log";
named = { licenses = 1; users = [ "nina", "omar" ]; };
concurrent = (
  { pool = "east"; licenses = 2; users = [ "ann", "bob", "cid", "dan" ]; },
  { pool = "west"; licenses = 1; users = [ "eve", "fay" ]; }
);
prices = { named = 300.0; concurrent = 900.0; currency = "EUR"; };
CONF
chmod 600 "$work/hl.conf"

# Two weeks from 2026-11-02 (Monday): each weekday ann, bob and cid log in
# to east at staggered hours (cid is refused at 10:30 on Tuesday and
# Thursday), eve and fay share west, nina works on the one Named license in
# the morning and omar, Named-eligible, finds it taken on Monday, Wednesday
# and Friday.
python3 - "$work/events.log" <<'GEN'
import sys
out = open(sys.argv[1], "w")
n = 0
def ev(day, hm, event, user, kind, pool=None, session=None, reason=None):
    line = '{"time":"2026-11-%02dT%s:00.000Z","event":"%s","user":"%s","kind":"%s"' % (day, hm, event, user, kind)
    if pool:
        line += ',"pool":"%s","slot":1' % pool
    if session:
        line += ',"pid":4242,"session":"%s"' % session
    if reason:
        line += ',"reason":"%s"' % reason
    out.write(line + "}\n")
for day in [2, 3, 4, 5, 6, 9, 10, 11, 12, 13]:
    s = lambda u: "%s-%d" % (u, day)
    ev(day, "08:00", "grant", "ann", "concurrent", "east", s("ann"))
    ev(day, "09:00", "grant", "bob", "concurrent", "east", s("bob"))
    ev(day, "08:30", "grant", "nina", "named", None, s("nina"))
    if day in (2, 4, 6, 9, 11, 13):
        ev(day, "09:00", "deny", "omar", "named", None, None, "all named licenses allocated")
    if day in (3, 5, 10, 12):
        ev(day, "10:30", "deny", "cid", "concurrent", "east", None, "all licenses in use")
        ev(day, "10:40", "wait", "fay", "concurrent", "west", s("fay"))
        ev(day, "11:10", "deny", "fay", "concurrent", "west", s("fay"), "timeout")
    ev(day, "10:00", "grant", "eve", "concurrent", "west", s("eve"))
    ev(day, "12:00", "release", "nina", "named", None, s("nina"))
    ev(day, "12:00", "release", "ann", "concurrent", "east", s("ann"))
    ev(day, "12:30", "grant", "cid", "concurrent", "east", s("cid"))
    ev(day, "13:00", "release", "eve", "concurrent", "west", s("eve"))
    ev(day, "15:00", "release", "bob", "concurrent", "east", s("bob"))
    ev(day, "16:00", "release", "cid", "concurrent", "east", s("cid"))
GEN
chmod 600 "$work/events.log"

"$tool" -c "$work/hl.conf" report --since 2026-11-02 --until 2026-11-15 \
	--html "$work/report.html" > "$work/report.txt" 2> "$work/report.err"
rc=$?
check $rc "report --html runs (exit $rc)"
test -s "$work/report.html"
check $? "the HTML page is written"
! grep -Eiq '<script|https?:|src=|href=|@import|url\(' "$work/report.html"
check $? "the page is self-contained: no script, no URL"
test "$(grep -o '<svg' "$work/report.html" | wc -l)" -eq 4
check $? "four inline SVG charts: east, west, refusals per day, hours"

# The summary table as Chromium parsed it.  Worked out by hand: on a
# 10-hour working day ann (4 h, 40%), bob (6 h) and cid (3.5 h) are at or
# over the price ratio 300/900 and go Named, nina (3.5 h) stays; omar's 6
# refusals cost 300 as Named against 900 for a seat: Named 1 + 3 + 1 = 5.
# East without ann, bob and cid needs 0; west needs 2 for eve and fay's
# refused waits.  Cost today 300 + 3 x 900 = 3000; suggested 5 x 300 +
# 2 x 900 = 3300.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
	--user-data-dir="$work/profile" --dump-dom \
	"file://$work/report.html" > "$work/dom.html" 2> "$work/dom.log"
python3 - "$work/dom.html" > "$work/summary.txt" <<'DOM'
import sys
from html.parser import HTMLParser

class Summary(HTMLParser):
    def __init__(self):
        super().__init__()
        self.depth, self.rows, self.cell, self.total = 0, [], None, None
        self.first_table = None
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            if self.first_table is None:
                self.first_table = attrs.get("id")
            if attrs.get("id") == "summary":
                self.depth = 1
        elif tag == "tr" and self.depth:
            self.rows.append([])
        elif tag in ("td", "th") and self.depth:
            self.cell = ""
        elif tag == "p" and attrs.get("id") == "total":
            self.total = ""
    def handle_endtag(self, tag):
        if tag == "table":
            self.depth = 0
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None
        elif tag == "p" and self.total is not None:
            print("total|" + self.total.strip())
            self.total = None
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.total is not None:
            self.total += data

parser = Summary()
parser.feed(open(sys.argv[1]).read())
print("first|%s" % parser.first_table)
for row in parser.rows:
    print("|".join(row))
DOM
cat "$work/summary.txt"
grep -qx 'first|summary' "$work/summary.txt"
check $? "the summary is the first table of the page"
grep -qx 'Kind|Licenses today|Peak|Refusals|Waits|Suggested|Change|Cost change' "$work/summary.txt"
check $? "the summary's columns"
grep -qx 'Named|1|1|6|-|5|+4|+1200.00 EUR' "$work/summary.txt"
check $? "summary: Named 1 today, 6 refusals, 5 suggested (+4, +1200 EUR)"
grep -qx 'pool east|2|2|4|0|0|-2|-1800.00 EUR' "$work/summary.txt"
check $? "summary: east 2 today, 4 refusals, 0 suggested (-2, -1800 EUR)"
grep -qx 'pool west|1|1|4|4|2|+1|+900.00 EUR' "$work/summary.txt"
check $? "summary: west 1 today, 4 refusals and waits, 2 suggested (+1)"
test "$(grep -vc '^\(first\|total\)|' "$work/summary.txt")" = 4
check $? "summary: a header and three rows, nothing else"
grep -qx 'total|Cost today: 3000.00 EUR; suggested: 3300.00 EUR (+300.00 EUR).' "$work/summary.txt"
check $? "summary: the cost today against the suggested mix"

mkdir -p "$(dirname "$shot")"
rm -f "$shot"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
	--user-data-dir="$work/profile" --hide-scrollbars \
	--screenshot="$shot" --window-size=1000,1800 \
	"file://$work/report.html" > "$work/browser.log" 2>&1
test -s "$shot"
check $? "headless $browser renders a screenshot"
echo "screenshot: $shot"

if [ -s "$shot" ]; then
	python3 - "$shot" > "$work/colours.txt" <<'PNG'
# A PNG decoder of our own (8-bit RGB or RGBA, non-interlaced): how many
# pixels have each chart colour, and how many are not white.
import struct, sys, zlib

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
assert depth == 8 and colour in (2, 6) and interlace == 0, "unsupported PNG"
bpp = 3 if colour == 2 else 4
raw = zlib.decompress(idat)
stride = width * bpp
rows, prev = [], bytearray(stride)
for y in range(height):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    prev = line
colours = {"in-use": (0x2f, 0x6f, 0xb5), "licenses": (0xc6, 0x28, 0x28),
           "refusals": (0xef, 0x8a, 0x17), "hours": (0x2e, 0x8b, 0x57),
           "named": (0x7b, 0x4f, 0xa0)}
counts = dict((k, 0) for k in colours)
ink = 0
for line in rows:
    for x in range(0, stride, bpp):
        px = (line[x], line[x + 1], line[x + 2])
        if px != (255, 255, 255):
            ink += 1
        for k, c in colours.items():
            if all(abs(px[i] - c[i]) <= 6 for i in range(3)):
                counts[k] += 1
print("size %d %d" % (width, height))
print("ink %d" % ink)
for k in colours:
    print("%s %d" % (k, counts[k]))
PNG
	check $? "the screenshot decodes"
	cat "$work/colours.txt"
	size=$(awk '$1 == "size" { print $2 * $3 }' "$work/colours.txt")
	ink=$(awk '$1 == "ink" { print $2 }' "$work/colours.txt")
	test -n "$ink" && test "$ink" -gt $((size / 50))
	check $? "the page is not blank (over 2% of pixels not white)"
	for colour in in-use licenses refusals hours named; do
		count=$(awk -v k="$colour" '$1 == k { print $2 }' "$work/colours.txt")
		test -n "$count" && test "$count" -gt 200
		check $? "the chart colour '$colour' is shown ($count pixels)"
	done
fi

echo "$passed passed, $failed failed"
test "$failed" = 0
