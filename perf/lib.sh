# Shared by the perf scripts (source it): the clock-tick rate for /proc/PID/stat CPU times,
# and the host's steal and total CPU ticks from /proc/stat.
tck=$(getconf CLK_TCK)
steal() { awk '/^cpu /{print $9+0, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
# Steal as a percentage of all ticks between two `steal` readings ("s t" each).
steal_pct() { awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); d=y[2]-x[2]; printf "%.1f", (d > 0 ? 100*(y[1]-x[1])/d : 0)}'; }
