#!/usr/bin/env bash
# The GPU measurements of docs/benchmarks.md ("Training and inference speed"), in one go.
#
#   python tools/analysis/benchmark.py gpu [OUT_DIR] [CONFIG]
#   (or: bash tools/dev/benchmark/gpu.sh [OUT_DIR] [CONFIG])
#
# OUT_DIR (default: $OUT, else work_dirs/benchmark_gpu) receives one JSON file and one log
# per run; the last lines printed are a Markdown table of all runs. Each run has its own
# time limit (RUN_TIMEOUT seconds, default 240) so one slow or failing variant does not
# cost the others. Set PHASES=core to skip the torch.compile runs (they compile for a
# minute or two each).
set -u
OUT_DIR=${1:-${OUT:-work_dirs/benchmark_gpu}}
CONFIG=${2:-configs/adaptsign_phoenix14.py}
PYTHON=${PYTHON:-python}
RUN_TIMEOUT=${RUN_TIMEOUT:-240}
PHASES=${PHASES:-all}
mkdir -p "$OUT_DIR"

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv \
    > "$OUT_DIR/gpu.txt" 2>&1
cat "$OUT_DIR/gpu.txt"
"$PYTHON" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)" \
    | tee "$OUT_DIR/versions.txt"

run() {  # run NAME SUBCOMMAND ARGS...: one benchmark, JSON and log in OUT_DIR
    local name=$1
    shift
    echo "== $name: $*"
    timeout "$RUN_TIMEOUT" "$PYTHON" tools/analysis/benchmark.py "$1" "$CONFIG" "${@:2}" \
        --json "$OUT_DIR/$name.json" > "$OUT_DIR/$name.log" 2>&1
    local rc=$?
    grep -E 'frames/s|peak memory|worst case|MFU|sync:' "$OUT_DIR/$name.log" | head -20
    [ $rc -eq 0 ] || { echo "   FAILED (exit $rc), last lines:"; tail -5 "$OUT_DIR/$name.log"; }
}

reference() {  # reference NAME ARGS...: the plain frozen ViT-B/16 on the same batches
    local name=$1
    shift
    echo "== $name: $*"
    timeout "$RUN_TIMEOUT" "$PYTHON" tools/analysis/benchmark.py vit-reference "$@" \
        --json "$OUT_DIR/$name.json" > "$OUT_DIR/$name.log" 2>&1
    local rc=$?
    tail -1 "$OUT_DIR/$name.log"
    [ $rc -eq 0 ] || { echo "   FAILED (exit $rc), last lines:"; tail -5 "$OUT_DIR/$name.log"; }
}

# The reference: a plain frozen ViT-B/16 (SDPA, bf16), same frames per step.
reference ref_vit_train --train
reference ref_vit_infer --infer
if [ "$PHASES" = all ]; then
    reference ref_vit_train_compile --train --compile --warmup 6
    reference ref_vit_infer_compile --infer --compile --warmup 6
fi
# Training, batch 2, PHOENIX14 train lengths, bf16 (the recipe's SignAmpOptimWrapper).
run train_none train --checkpointing none --worst-case-memory --sync-debug \
    --profile "$OUT_DIR/train_none.profile.txt"
run train_selective train --checkpointing selective --worst-case-memory
run train_full train --checkpointing full --worst-case-memory
# Inference, PHOENIX14 dev lengths, bf16 autocast: the model alone, then with decoding.
run infer_logits inference --no-decode --sync-debug \
    --profile "$OUT_DIR/infer_logits.profile.txt"
run infer_decode inference
if [ "$PHASES" = all ]; then
    run train_none_compile --train --checkpointing none --compile --warmup 6 \
        --worst-case-memory
    run train_selective_compile --train --checkpointing selective --compile --warmup 6 \
        --worst-case-memory
    run infer_logits_compile --infer --no-decode --compile --warmup 6
fi
# The released code's padding (27 % more frames through the ViT), for comparison.
run train_frames_padding train --cfg-options model.padding_mode=frames

"$PYTHON" - "$OUT_DIR" <<'EOF'
import glob, json, os.path as osp, sys
rows, devices, runs = [], set(), {}
for path in sorted(glob.glob(osp.join(sys.argv[1], '*.json'))):
    runs[osp.basename(path)[:-5]] = json.load(open(path))
def reference_of(name, r):
    """The plain-ViT run this run is compared with (same mode, same compile setting)."""
    ref = runs.get(f"ref_vit_{r['mode']}" + ('_compile' if r.get('compile') else ''))
    return None if ref is None or name.startswith('ref_') else ref
for name, r in runs.items():
    devices.add(r['device_name'])
    ref = reference_of(name, r)
    ratio = '-' if ref is None else f"{r['frames_per_s'] / ref['frames_per_s']:.2f}x"
    gib = lambda key: '-' if r.get(key) is None else f'{r[key]:.1f}'
    mfu = '-' if r.get('mfu') is None else f'{100 * r["mfu"]:.0f} %'
    syncs = len(r['syncs']) if 'syncs' in r else '-'
    rows.append(f'| {name} | {r["mode"]} | {r["amp"]} | '
                f'{r["checkpointing"]} | {r["compile"]} | {r["frames_per_s"]:,.0f} | '
                f'{ratio} | {r["s_per_step"]:.3f} | {gib("peak_mem_gib")} | '
                f'{gib("worst_case_peak_reserved_gib")} | {mfu} | {syncs} |')
print('\nGPU:', ', '.join(sorted(devices)))
print('ratio: frames/s over the plain frozen ViT-B/16 of the same mode and compile setting')
print('| run | mode | amp | checkpointing | compile | real frames/s | ratio | s/step | peak GiB '
      '| worst-case reserved GiB | MFU | syncs/step |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
print('\n'.join(rows))
EOF
