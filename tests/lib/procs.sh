# Process helpers for script tests, without pgrep/procps (not on a minimal Debian).
# pids_with TEXT: the pids (other than this shell) whose command line contains TEXT.
pids_with() {
    local f p
    for f in /proc/[0-9]*/cmdline; do
        p=${f#/proc/}; p=${p%/cmdline}
        [ "$p" = $$ ] && continue
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$1" && echo "$p"
    done
}
