# Sourced by the embedded benchmarks. The process tree of one kuzet daemon: kuzet itself, the embedded PostgreSQL
# postmaster it started, and every process the postmaster forked.

# tree_pids ROOT: ROOT and all its descendants, one pid per line.
tree_pids() {
  local all
  all=$(ps -e -o pid=,ppid=)
  local frontier=("$1") out=("$1")
  while [ ${#frontier[@]} -gt 0 ]; do
    local next=()
    for p in "${frontier[@]}"; do
      while read -r c; do [ -n "$c" ] && next+=("$c") && out+=("$c"); done < <(awk -v p="$p" '$2 == p {print $1}' <<<"$all")
    done
    frontier=("${next[@]}")
  done
  printf '%s\n' "${out[@]}"
}

# tree_mem ROOT: "<processes> <sum of RSS kB> <sum of PSS kB>" (PSS shares each page among the processes mapping it,
# so PostgreSQL's shared memory is counted once; RSS counts it in every process that touched it).
tree_mem() {
  local n=0 rss=0 pss=0
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/status" ] || continue
    n=$((n + 1))
    rss=$((rss + $(awk '/^VmRSS:/{print $2}' "/proc/$p/status")))
    pss=$((pss + $(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
  done
  echo "$n $rss $pss"
}

# tree_cpu ROOT: CPU seconds used by the tree so far (user + system, with reaped children).
tree_cpu() {
  local ticks=0
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/stat" ] || continue
    ticks=$((ticks + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')))
  done
  echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc
}
