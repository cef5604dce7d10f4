#!/usr/bin/env bash
# Runs one libFuzzer harness of tests/fuzz/ (built by tests/fuzz/fuzz.mk).
#
#   run.sh fuzz   H SECONDS  fuzz on build/fuzz/corpus/H (seeds copied in; it grows there)
#   run.sh test   H SECONDS  fuzz briefly on a fresh copy of the seeds, then replay
#                            tests/fuzz/regress/H/*; prints one summary line
#   run.sh merge  H          add to tests/fuzz/corpus/H the inputs of build/fuzz/corpus/H
#                            that bring new coverage (-merge=1), to commit
#   run.sh cov    H - FILE...  replay the seeds and the grown corpus through the
#                            coverage build (build/fuzz/cov/fuzz_H) into H-*.profraw;
#                            llvm-cov report of this harness over FILE... in H.txt
#
# The repository's corpus is only read: new inputs go under build/fuzz/.
# Crash artifacts: build/fuzz/artifacts/H-*. Logs: build/fuzz/logs/.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=$1 h=$2 secs=${3:-60}
B=build/fuzz
bin=$B/fuzz_$h
seeds=tests/fuzz/corpus/$h
regress=tests/fuzz/regress/$h
dict=tests/fuzz/dict/$h.dict

case $h in
router) max_len=4200 ;;
json) max_len=8192 ;;
ws_msg) max_len=16500 ;;
event) max_len=4096 ;;
config) max_len=2048 ;;
jwt) max_len=4096 ;;
filter) max_len=4200 ;;
*) echo "run.sh: unknown harness $h" >&2; exit 2 ;;
esac

opts=(-max_len=$max_len -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
	-artifact_prefix=$B/artifacts/$h-)
[ -f "$dict" ] && opts+=(-dict=$dict)
mkdir -p $B/artifacts $B/logs

case $mode in
fuzz)
	mkdir -p $B/corpus/$h
	cp -n $seeds/* $B/corpus/$h/ 2>/dev/null || true
	echo "== fuzz_$h: ${secs}s on $B/corpus/$h"
	$bin "${opts[@]}" -max_total_time="$secs" $B/corpus/$h 2>&1 | tee $B/logs/$h.fuzz.log |
		grep -E '^(#[0-9]+ +(INITED|DONE|pulse)|stat::|==[0-9]+==ERROR|SUMMARY|FUZZ_CHECK|Done)' || true
	exit "${PIPESTATUS[0]}"
	;;
test)
	rm -rf $B/test-corpus/$h
	mkdir -p $B/test-corpus/$h
	cp $seeds/* $B/test-corpus/$h/
	log=$B/logs/$h.test.log
	if ! $bin "${opts[@]}" -max_total_time="$secs" $B/test-corpus/$h >$log 2>&1; then
		tail -n 60 $log
		echo "fuzz_$h: FAILED (log $log, artifacts $B/artifacts/$h-*)"
		exit 1
	fi
	stats=$( (grep -oE 'cov: [0-9]+ ft: [0-9]+' $log || true) | tail -n 1)
	stats="$stats, $( (grep -oE 'average_exec_per_sec: +[0-9]+' $log || true) | awk '{print $2}') exec/s"
	n=0
	if [ -d "$regress" ]; then
		mapfile -t inputs < <(find "$regress" -type f ! -name '.*' | sort)
		n=${#inputs[@]}
	fi
	if [ $n -gt 0 ]; then
		# With the known-bug checks on: a fixed bug must stay fixed.
		if ! FUZZ_KNOWN_BUGS=1 $bin "${opts[@]}" "${inputs[@]}" >$B/logs/$h.regress.log 2>&1; then
			tail -n 60 $B/logs/$h.regress.log
			echo "fuzz_$h: a regression input fails (log $B/logs/$h.regress.log)"
			exit 1
		fi
	fi
	# known/: inputs that show a production bug not fixed yet. They must still
	# fail with the known-bug checks on; one that passes is fixed: move it to regress/.
	k=0
	if [ -d tests/fuzz/known/$h ]; then
		while IFS= read -r f; do
			k=$((k + 1))
			if FUZZ_KNOWN_BUGS=1 $bin "${opts[@]}" "$f" >$B/logs/$h.known.log 2>&1; then
				echo "fuzz_$h: $f passes now: the bug is fixed, git mv it to $regress/"
				exit 1
			fi
		done < <(find tests/fuzz/known/$h -type f ! -name '.*' | sort)
	fi
	echo "fuzz_$h: ok ${secs}s ($stats), $n regression input(s) replayed, $k known bug(s) still failing"
	;;
merge)
	# Adds to the repository's seeds the grown inputs that bring new coverage.
	[ -d $B/corpus/$h ] || exit 0
	$bin "${opts[@]}" -merge=1 "$seeds" $B/corpus/$h >$B/logs/$h.merge.log 2>&1 ||
		{ tail -n 20 $B/logs/$h.merge.log; exit 1; }
	echo "fuzz_$h: $(ls "$seeds" | wc -l) seeds, $(du -sk "$seeds" | cut -f1) KiB"
	;;
cov)
	# Files, not directories: libFuzzer then runs each once and writes nothing.
	dirs=("$seeds")
	[ -d $B/corpus/$h ] && dirs+=($B/corpus/$h)
	rm -f $B/cov/$h-*.profraw
	find "${dirs[@]}" -type f -print0 |
		LLVM_PROFILE_FILE="$B/cov/$h-%p.profraw" xargs -0 -r $B/cov/fuzz_$h >$B/logs/$h.cov.log 2>&1
	# This harness alone, over the parser files ($4...) it links.
	shift 3 || shift $#
	${FUZZ_PROFDATA:-llvm-profdata-14} merge -sparse -o $B/cov/$h.profdata $B/cov/$h-*.profraw
	${FUZZ_COV:-llvm-cov-14} report $B/cov/fuzz_$h -instr-profile=$B/cov/$h.profdata "$@" >$B/cov/$h.txt
	echo "fuzz_$h: $(grep -E '^TOTAL' $B/cov/$h.txt | awk '{print "lines " $(NF-3) " covered of our linked parser files, regions " $4}')"
	;;
*)
	echo "run.sh: unknown mode $mode" >&2
	exit 2
	;;
esac
