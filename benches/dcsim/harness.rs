//! A small timing harness: warm-up, N repetitions, median and spread, and side-by-side
//! (interleaved) measurement for the rows that are ratios.
//!
//! Why not criterion or divan: the table is mostly derived figures (x faster than real
//! time, states per second, slopes and ratios between sizes, guard minus bare send)
//! computed from several measurements made in one process, and the whole script must fit
//! in five minutes on two shared cores. Criterion's bootstrap statistics and fixed
//! measurement windows would spend most of that budget on a handful of rows and leave the
//! derived figures to a second tool that parses its output; divan prints its own table
//! that we would also have to parse. A hundred lines of `Instant` arithmetic give exactly
//! the figures we report, with no new dependency to build.
//!
//! Noise: the machine is shared, so every comparison that is reported as a ratio is
//! measured interleaved (A, B, A, B, ...) in the same run, and every figure is a median.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Repetitions of one measurement.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Every repetition, sorted.
    pub times: Vec<Duration>,
}

impl Sample {
    fn new(mut times: Vec<Duration>) -> Self {
        times.sort();
        Sample { times }
    }

    /// The median repetition.
    pub fn median(&self) -> Duration {
        let n = self.times.len();
        if n == 0 {
            return Duration::ZERO;
        }
        if n % 2 == 1 {
            self.times[n / 2]
        } else {
            (self.times[n / 2 - 1] + self.times[n / 2]) / 2
        }
    }

    /// Median in seconds.
    pub fn secs(&self) -> f64 {
        self.median().as_secs_f64()
    }

    /// Spread: half the distance between the 25th and 75th percentile, relative to the
    /// median (so "±4%" means half the runs were within 4% of the median).
    pub fn spread(&self) -> f64 {
        let n = self.times.len();
        if n < 2 {
            return 0.0;
        }
        let q = |p: f64| self.times[((n - 1) as f64 * p).round() as usize].as_secs_f64();
        let m = self.secs();
        if m == 0.0 {
            return 0.0;
        }
        (q(0.75) - q(0.25)) / 2.0 / m
    }

    /// Number of repetitions.
    pub fn n(&self) -> usize {
        self.times.len()
    }
}

/// How long to measure a row for.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Time to spend warming up.
    pub warmup: Duration,
    /// Time to spend measuring (the repetition count follows from it).
    pub measure: Duration,
    /// At least this many repetitions (even if over the time).
    pub min_reps: usize,
    /// At most this many.
    pub max_reps: usize,
}

impl Budget {
    /// A budget of `measure` seconds with 3..=max repetitions.
    pub fn secs(measure: f64, max_reps: usize) -> Self {
        Budget {
            warmup: Duration::from_secs_f64(measure / 5.0),
            measure: Duration::from_secs_f64(measure),
            min_reps: 3,
            max_reps,
        }
    }

    /// Scaled down for `--quick`.
    pub fn scaled(self, factor: f64) -> Self {
        Budget {
            warmup: self.warmup.mul_f64(factor),
            measure: self.measure.mul_f64(factor),
            min_reps: self.min_reps.min(3),
            max_reps: self.max_reps,
        }
    }
}

/// Warm-up, then repetitions of `f` within the budget.
pub fn measure<T>(budget: Budget, mut f: impl FnMut() -> T) -> Sample {
    let mut reps = interleaved(
        budget,
        &mut [&mut || {
            black_box(f());
        }],
    );
    reps.pop().unwrap_or_else(|| Sample::new(Vec::new()))
}

/// Side by side: warm-up, then rounds in which every function runs once, in an order
/// that rotates each round, until the budget is spent. One sample per function.
pub fn interleaved(budget: Budget, fs: &mut [&mut dyn FnMut()]) -> Vec<Sample> {
    let k = fs.len();
    // Warm-up (at least one round), which also tells how long a round takes.
    let start = Instant::now();
    let mut warm_rounds = 0usize;
    loop {
        for f in fs.iter_mut() {
            f();
        }
        warm_rounds += 1;
        if start.elapsed() >= budget.warmup || warm_rounds >= budget.max_reps {
            break;
        }
    }
    let per_round = start.elapsed().as_secs_f64() / warm_rounds as f64;
    let reps = if per_round > 0.0 {
        (budget.measure.as_secs_f64() / per_round) as usize
    } else {
        budget.max_reps
    }
    .clamp(budget.min_reps, budget.max_reps.max(budget.min_reps));
    let mut times = vec![Vec::with_capacity(reps); k];
    for r in 0..reps {
        for j in 0..k {
            let i = (j + r) % k;
            let t = Instant::now();
            fs[i]();
            times[i].push(t.elapsed());
        }
    }
    times.into_iter().map(Sample::new).collect()
}

/// One row of the table.
#[derive(Clone, Debug)]
pub struct Row {
    /// Section (e.g. "Simulator").
    pub group: &'static str,
    /// What was measured.
    pub what: String,
    /// The figure, formatted.
    pub figure: String,
    /// Target from the issues, if any.
    pub target: String,
    /// Verdict against the target: "met", "missed", or "" without a target.
    pub verdict: String,
    /// How it was measured, spread, notes.
    pub notes: String,
}

/// The table under construction.
#[derive(Default)]
pub struct Table {
    /// Rows in order.
    pub rows: Vec<Row>,
}

impl Table {
    /// Adds a row and echoes it on stderr as progress.
    pub fn row(
        &mut self,
        group: &'static str,
        what: impl Into<String>,
        figure: impl Into<String>,
        target: impl Into<String>,
        verdict: Option<bool>,
        notes: impl Into<String>,
    ) {
        let row = Row {
            group,
            what: what.into(),
            figure: figure.into(),
            target: target.into(),
            verdict: match verdict {
                Some(true) => "met".into(),
                Some(false) => "**missed**".into(),
                None => String::new(),
            },
            notes: notes.into(),
        };
        eprintln!("  {:<58} {:>22}  {}", row.what, row.figure, row.verdict);
        self.rows.push(row);
    }

    /// The table in Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("| group | measurement | figure | target | | how / notes |\n");
        out.push_str("| --- | --- | ---: | --- | --- | --- |\n");
        let mut last = "";
        for r in &self.rows {
            let group = if r.group == last { "" } else { r.group };
            last = r.group;
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} |\n",
                group,
                r.what,
                r.figure,
                r.target,
                r.verdict,
                r.notes.replace('|', "\\|")
            ));
        }
        out
    }
}

/// `1234567.0` -> `1.23 M`.
pub fn si(x: f64) -> String {
    let (v, unit) = if x >= 1e9 {
        (x / 1e9, " G")
    } else if x >= 1e6 {
        (x / 1e6, " M")
    } else if x >= 1e3 {
        (x / 1e3, " k")
    } else {
        (x, " ")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$}{unit}").trim_end().to_string()
}

/// A duration for people: ns, µs, ms or s with three significant digits.
pub fn dur(secs: f64) -> String {
    let (v, unit) = if secs >= 1.0 {
        (secs, "s")
    } else if secs >= 1e-3 {
        (secs * 1e3, "ms")
    } else if secs >= 1e-6 {
        (secs * 1e6, "µs")
    } else {
        (secs * 1e9, "ns")
    };
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {unit}")
}

/// "median ±spread, n reps".
pub fn how(sample: &Sample) -> String {
    format!("median of {}, ±{:.0}%", sample.n(), sample.spread() * 100.0)
}
