#!/usr/bin/env bash
# Turns bench/load.sh's results.tsv into a Markdown table (each Amity figure beside the
# baseline from the same run, and their ratio) and an SVG chart of signature-submission
# throughput against concurrency. Usage: bench/report.sh RESULTS.tsv OUT_DIR
set -euo pipefail
RESULTS=$1
OUT=$2

awk -F'\t' '
  NR == 1 { next }
  $1 == "baseline" { base[$2 "|" $3] = $4; bp50[$2 "|" $3] = $5; bp99[$2 "|" $3] = $6; next }
  { rows[++n] = $0 }
  END {
    map["signature_submit"] = "verify_only"; map["partnership_by_id"] = "json"
    map["partnership_list_50"] = "json"; map["checkpoint"] = "json"; map["inclusion_proof"] = "json"
    map["upload_1mib"] = "sha256_1mib"; map["upload_25mib"] = "sha256_25mib"
    print "| backend | scenario | conc | ok req/s | p50 ms | p99 ms | server peak RSS MiB | errors | baseline | baseline req/s | baseline p50 / p99 ms | ratio |"
    print "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
    for (i = 1; i <= n; i++) {
      split(rows[i], f, "\t")
      if (f[2] ~ /_s$/) { printf "| %s | %s | | %s s | | | | | | | | |\n", f[1], f[2], f[4]; continue }
      b = map[f[2]]; conc = f[3]
      if (b == "json") conc = f[3]
      key = b "|" conc
      if (b != "" && (key in base) && base[key] > 0)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %.0f%% |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], b, base[key], bp50[key], bp99[key], 100 * f[4] / base[key]
      else
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | | | | |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]
    }
  }' "$RESULTS" | tee "$OUT/table.md"

# Chart: log2 concurrency on x, requests/s on y, one line per series.
awk -F'\t' '
  NR == 1 { next }
  ($2 == "signature_submit" || $2 == "verify_only") {
    s = ($2 == "verify_only") ? "baseline parse+verify_strict" : "amity " $1 " (durable)"
    if (!(s in seen)) { seen[s] = 1; order[++ns] = s }
    pts[s] = pts[s] " " $3 ":" $4
    if ($4 > ymax) ymax = $4; if ($3 > xmax) xmax = $3
  }
  END {
    W = 640; H = 400; L = 70; R = 20; T = 30; B = 50
    lx = log(xmax) / log(2); if (lx < 1) lx = 1
    ymax = ymax * 1.1; if (ymax <= 0) ymax = 1
    split("#1f77b4 #d62728 #2ca02c #9467bd", col, " ")
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"18\" font-size=\"14\">Signature submission: throughput against concurrency</text>\n", L
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
    printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B
    for (k = 0; k <= 4; k++) {
      v = ymax * k / 4; y = H - B - (H - B - T) * k / 4
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.0f</text>\n", L - 5, y + 4, v
      printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>\n", L, y, W - R, y
    }
    for (e = 0; e <= lx; e++) {
      x = L + (W - L - R) * e / lx
      printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, H - B + 16, 2 ^ e
    }
    printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">concurrent connections (wrk)</text>\n", (L + W - R) / 2, H - 12
    printf "<text x=\"14\" y=\"%d\" transform=\"rotate(-90 14 %d)\" text-anchor=\"middle\">accepted requests/s</text>\n", (T + H - B) / 2, (T + H - B) / 2
    for (i = 1; i <= ns; i++) {
      s = order[i]; np = split(pts[s], p, " "); path = ""
      for (j = 1; j <= np; j++) {
        split(p[j], xy, ":"); x = L + (W - L - R) * (log(xy[1]) / log(2)) / lx; y = H - B - (H - B - T) * xy[2] / ymax
        path = path sprintf("%s%.1f,%.1f", (j == 1 ? "" : " "), x, y)
        printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y, col[i]
      }
      printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", path, col[i]
      printf "<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", L + 10, T + 16 * i, col[i], s
    }
    print "</svg>"
  }' "$RESULTS" >"$OUT/signatures.svg"
echo "chart: $OUT/signatures.svg" >&2
