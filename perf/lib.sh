# Shared by the perf scripts (source it): the clock-tick rate for /proc/PID/stat CPU times,
# and the host's steal and total CPU ticks from /proc/stat.
tck=$(getconf CLK_TCK)
steal() { awk '/^cpu /{print $9+0, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }
