#!/bin/sh
# Stage: the report's HTML page as a browser shows it.  A known week of
# events is reported with the built tool's "report --html"; headless
# Chromium renders the page to a PNG; a small PNG decoder checks that the
# page is not blank and that the chart colours are there (licenses in use,
# the license line, refusals, hours per technician).  The screenshot is
# kept in the build directory and its path printed.
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
named = { licenses = 2; users = [ "nina" ]; };
concurrent = (
  { pool = "east"; licenses = 2; users = [ "ann", "bob", "cid", "dan" ]; },
  { pool = "west"; licenses = 1; users = [ "eve", "fay" ]; }
);
prices = { named = 300.0; concurrent = 900.0; currency = "EUR"; };
CONF
chmod 600 "$work/hl.conf"

# The week of 2026-11-02: each weekday ann, bob and cid log in to east at
# staggered hours (cid is refused at 10:30 on Tuesday and Thursday), eve
# and fay share west, nina works on her Named license in the morning.
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
for day in range(2, 7):
    s = lambda u: "%s-%d" % (u, day)
    ev(day, "08:00", "grant", "ann", "concurrent", "east", s("ann"))
    ev(day, "09:00", "grant", "bob", "concurrent", "east", s("bob"))
    ev(day, "08:30", "grant", "nina", "named", None, s("nina"))
    if day in (3, 5):
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

"$tool" -c "$work/hl.conf" report --since 2026-11-02 --until 2026-11-08 \
	--html "$work/report.html" > "$work/report.txt" 2> "$work/report.err"
rc=$?
check $rc "report --html runs (exit $rc)"
test -s "$work/report.html"
check $? "the HTML page is written"
! grep -Eiq '<script|https?:|src=|href=|@import|url\(' "$work/report.html"
check $? "the page is self-contained: no script, no URL"
test "$(grep -o '<svg' "$work/report.html" | wc -l)" -eq 4
check $? "four inline SVG charts: east, west, refusals per day, hours"

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
