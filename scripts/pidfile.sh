# Sourced by scripts/services.sh and scripts/patroni.sh.
#
# live_pid PIDFILE NAME WORD: the pid PIDFILE names, printed only while that process is NAME
# (its /proc comm) with WORD in its command line; fails otherwise. A machine that is restored or
# rebooted keeps its pid files but not their processes, and the pid a file names may then belong
# to another program (even another of our servers): never signal a pid this has not checked.
live_pid() {
  local pid
  pid=$(head -n 1 "$1" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$3" || return 1
  echo "$pid"
}

# drop_stale_pidfile PIDFILE NAME WORD: removes PIDFILE when the process it names is gone, so
# that a server which refuses to start over a pid file that names a live pid can start.
drop_stale_pidfile() {
  if [[ -f "$1" ]] && ! live_pid "$@" >/dev/null; then
    printf '%s\n' "removing $1: pid $(head -n 1 "$1" 2>/dev/null), which it names, is no longer that $2"
    rm -f "$1"
  fi
}
