//! Criterion benchmarks of the engine: one draw's projection, the aggregation of a block of
//! draws, and a whole run. `BENCHMARKS.md` records the medians with the machine and command.
//!
//!     cargo bench --bench engine
//!
//! The scenario is the shipped default (`CAPSIM_BENCH_SCENARIO` overrides it).

use std::path::PathBuf;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use capsim::{engine, runner, scenario, stats};

/// The binary's allocator (`src/main.rs`), so the whole-run figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scenario_path() -> PathBuf {
    std::env::var_os("CAPSIM_BENCH_SCENARIO").map(PathBuf::from).unwrap_or_else(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let default = dir.join("shanghai-new-towns.toml");
        if default.exists() { default } else { dir.join("example.toml") }
    })
}

fn benches(c: &mut Criterion) {
    let s = scenario::load(&scenario_path(), &[]).expect("scenario");
    let model = engine::compile(&s);
    let mut ws = model.workspace();
    let mut values = model.central_values();
    let mut shocks = vec![0.0; model.shock_len()];

    c.bench_function("sample one draw's inputs", |b| {
        let mut d = 0u64;
        b.iter(|| {
            d += 1;
            engine::sample_draw(&model, 1, d, &mut values, &mut shocks);
        })
    });

    c.bench_function("project one draw (projection, demand, capacity)", |b| {
        engine::sample_draw(&model, 1, 7, &mut values, &mut shocks);
        b.iter(|| engine::simulate_draw(&model, &values, &shocks, &mut ws).expect("finite"))
    });

    // Aggregation of one block of draws (the runner's unit of work).
    let mut block = stats::Block::new(&model, runner::BLOCK as usize);
    let outputs: Vec<engine::DrawOutput> = (0..runner::BLOCK)
        .map(|d| {
            engine::sample_draw(&model, 1, d, &mut values, &mut shocks);
            engine::simulate_draw(&model, &values, &shocks, &mut ws).expect("finite");
            ws.out.clone()
        })
        .collect();
    // The runner's shared aggregate (an `Aggregate` would first reorder its sketches).
    let agg = stats::SharedAggregate::new(&model);
    c.bench_function(&format!("aggregate a block of {} draws", runner::BLOCK), |b| {
        b.iter_batched(
            || (),
            |_| {
                for o in &outputs {
                    block.push(o);
                }
                agg.add_block(&mut block, 0).expect("the model's fixed series hold");
            },
            BatchSize::SmallInput,
        )
    });

    let mut group = c.benchmark_group("whole run");
    group.sample_size(10);
    for threads in [1usize, 2] {
        group.bench_function(format!("10,000 draws, {threads} thread(s)"), |b| {
            b.iter(|| runner::run(&model, 1, 0..10_000, threads, &|_| {}).expect("finite"))
        });
    }
    group.finish();
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
