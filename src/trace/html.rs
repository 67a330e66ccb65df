//! A self-contained HTML timeline of a trace, for people.

use super::text::{describe, join_counts, Summary};
use super::{EventKind, Machine, PeerId, SendOutcome, Trace, TraceEvent, Via};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Width of the SVG's coordinate space.
const WIDTH: f64 = 1280.0;
/// Left gutter for row labels.
const GUTTER: f64 = 190.0;
/// Right margin.
const RIGHT: f64 = 24.0;
/// Room after the last event, so that marks at the end stay visible.
const TAIL: f64 = 18.0;
/// Width of a compressed idle stretch.
const BREAK: f64 = 42.0;
/// Gaps shorter than this are never compressed.
const IDLE_MIN_MS: u64 = 200;
/// Only gaps this many times the median gap between events count as idle.
const IDLE_FACTOR: u64 = 20;
/// Compress idle gaps (longest first) until the median gap is at least this wide.
const TARGET_GAP_PX: f64 = 20.0;
/// Height of a state row, and the gap below it.
const ROW: f64 = 18.0;
const ROW_GAP: f64 = 5.0;
/// Height of a lane's message row.
const MSG_ROW: f64 = 30.0;
/// Height of a lane's header.
const LANE_HEAD: f64 = 22.0;
/// Space between the two lanes.
const LANE_GAP: f64 = 14.0;
/// Rows of fault and violation labels above the axis.
const FLAG_ROWS: usize = 3;
const FLAG_ROW: f64 = 15.0;
/// The time axis, below the flags and the tick labels.
const AXIS_Y: f64 = FLAG_ROWS as f64 * FLAG_ROW + 30.0;

impl Trace {
    /// Renders the trace as one self-contained HTML page titled `title`.
    ///
    /// One file, no scripts, fonts or URLs: inline CSS and one inline SVG. The timeline has a
    /// lane per peer; in each lane a row of coloured bands per state machine (the same rows in
    /// both lanes, so the peers line up), and a row of marks for the application's messages:
    /// sends by outcome, flushes, deliveries (joined to their send by a line), drops and
    /// callbacks. Faults are dashed lines across both lanes, violations red lines with a
    /// tooltip. Long idle stretches are compressed to a fixed hatched width that states how
    /// long they were. Below come the list of violations and a table of every event; each
    /// mark links to its row.
    pub fn render_html(&self, title: &str) -> String {
        let summary = Summary::of(self);
        let mut out = String::with_capacity(16 * 1024 + self.events.len() * 400);
        let title = esc(title);
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<header>\n\
             <h1>{title}</h1>\n"
        );
        chips(&mut out, &summary);
        out.push_str("</header>\n<section class=\"card\">\n<h2>Timeline</h2>\n");
        legend(&mut out);
        if self.events.is_empty() {
            out.push_str("<p class=\"muted\">The trace has no events.</p>\n");
        } else {
            let timeline = Timeline::new(self);
            if timeline.ordinal {
                let _ = writeln!(
                    out,
                    "<p class=\"muted\">Every event happened at {}: the axis shows the order \
                     of events (#index in the table) instead of time.</p>",
                    fmt_ms(self.events[0].t_ms)
                );
            }
            timeline.render(&mut out);
        }
        out.push_str("</section>\n");
        violations(&mut out, self);
        table(&mut out, self);
        out.push_str("</body>\n</html>\n");
        out
    }
}

/// HTML-escapes text for element content and quoted attributes.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `612 ms`, `7 s`, `1.5 s`, `32.002 s`.
fn fmt_ms(t: u64) -> String {
    if t < 1000 {
        format!("{t} ms")
    } else if t % 1000 == 0 {
        format!("{} s", t / 1000)
    } else {
        // Integer arithmetic: exact for every u64 (a float loses digits above 2^53 ms).
        let ms = format!("{:03}", t % 1000);
        format!("{}.{} s", t / 1000, ms.trim_end_matches('0'))
    }
}

/// Fill and text colour of a state's band.
fn state_colors(state: &str) -> (&'static str, &'static str) {
    const DARK: &str = "#1f2937";
    const LIGHT: &str = "#ffffff";
    match state {
        "new" => ("#cbd5e1", DARK),
        "checking"
        | "connecting"
        | "gathering"
        | "have-local-offer"
        | "have-remote-offer"
        | "have-local-pranswer"
        | "have-remote-pranswer" => ("#f5b83d", DARK),
        "connected" | "open" | "completed" | "complete" | "stable" => ("#2f9e5b", LIGHT),
        "disconnected" => ("#f07b22", LIGHT),
        "failed" => ("#d63a3a", LIGHT),
        "closed" => ("#4b5563", LIGHT),
        "closing" => ("#8b5cf6", LIGHT),
        _ => ("#e5e7eb", DARK),
    }
}

/// Roughly how wide `text` is at a font size of `px` (generous, for bold text).
fn text_width(text: &str, px: f64) -> f64 {
    text.chars().count() as f64 * px * 0.62
}

/// Maps time to x: linear stretches and compressed idle breaks.
struct Scale {
    segments: Vec<Segment>,
}

#[derive(Clone, Copy, Debug)]
struct Segment {
    t0: u64,
    t1: u64,
    x0: f64,
    x1: f64,
    idle: bool,
}

impl Scale {
    /// A scale for `times` (any order) over `[x0, x0 + width]`.
    fn new(times: &[u64], x0: f64, width: f64) -> Scale {
        let ts: Vec<u64> = std::iter::once(0)
            .chain(times.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if ts.len() < 2 {
            let t1 = ts.last().copied().unwrap_or(0).max(1);
            let seg = Segment {
                t0: 0,
                t1,
                x0,
                x1: x0 + width,
                idle: false,
            };
            return Scale {
                segments: vec![seg],
            };
        }
        let gaps: Vec<u64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
        let mut sorted = gaps.clone();
        sorted.sort_unstable();
        let median = sorted[sorted.len() / 2].max(1);
        let span = ts[ts.len() - 1] - ts[0];

        // Compress the longest gaps, one by one, until the typical gap is readable.
        let mut candidates: Vec<usize> = (0..gaps.len())
            .filter(|&i| gaps[i] >= IDLE_MIN_MS.max(IDLE_FACTOR.saturating_mul(median)))
            .collect();
        candidates.sort_by_key(|&i| (std::cmp::Reverse(gaps[i]), i));
        let max_breaks = (width * 0.4 / BREAK) as usize;
        let mut idle = vec![false; gaps.len()];
        let (mut breaks, mut linear) = (0usize, span);
        for i in candidates {
            let px_per_ms = (width - breaks as f64 * BREAK) / linear as f64;
            if breaks >= max_breaks || median as f64 * px_per_ms >= TARGET_GAP_PX {
                break;
            }
            idle[i] = true;
            breaks += 1;
            linear -= gaps[i];
        }
        let px_per_ms = (width - breaks as f64 * BREAK) / linear.max(1) as f64;

        let mut segments: Vec<Segment> = Vec::new();
        let mut x = x0;
        for (i, w) in ts.windows(2).enumerate() {
            let dx = if idle[i] {
                BREAK
            } else {
                (w[1] - w[0]) as f64 * px_per_ms
            };
            match segments.last_mut() {
                Some(last) if !last.idle && !idle[i] => {
                    last.t1 = w[1];
                    last.x1 = x + dx;
                }
                _ => segments.push(Segment {
                    t0: w[0],
                    t1: w[1],
                    x0: x,
                    x1: x + dx,
                    idle: idle[i],
                }),
            }
            x += dx;
        }
        Scale { segments }
    }

    /// The x of time `t` (clamped to the scale's range).
    fn x(&self, t: u64) -> f64 {
        let seg = self
            .segments
            .iter()
            .find(|s| t <= s.t1)
            .or(self.segments.last())
            .copied()
            .unwrap_or(Segment {
                t0: 0,
                t1: 1,
                x0: 0.0,
                x1: 0.0,
                idle: false,
            });
        let t = t.clamp(seg.t0, seg.t1);
        let frac = (t - seg.t0) as f64 / (seg.t1 - seg.t0).max(1) as f64;
        seg.x0 + frac * (seg.x1 - seg.x0)
    }

    /// Axis ticks `(time, x, labelled)`: round times in each linear stretch, and the
    /// first time after each break; labels are dropped where they would collide.
    fn ticks(&self) -> Vec<(u64, f64, bool)> {
        let mut ticks: Vec<(u64, f64)> = Vec::new();
        for (k, seg) in self.segments.iter().enumerate() {
            if seg.idle {
                continue;
            }
            if k == 0 || self.segments[k - 1].idle {
                ticks.push((seg.t0, seg.x0));
            }
            // About 80 px between ticks, however long the stretch: a step computed from a
            // clamped px/ms made hundreds of millions of ticks for times around 2^60 ms.
            let ms_per_80px = 80.0 * (seg.t1 - seg.t0).max(1) as f64 / (seg.x1 - seg.x0).max(1e-3);
            let step = nice_step(ms_per_80px);
            // Checked: near u64::MAX the next round time does not exist (a trace that
            // parses may hold any u64 time).
            let mut t = seg.t0.div_ceil(step).checked_mul(step);
            while let Some(at) = t.filter(|&at| at <= seg.t1) {
                ticks.push((at, self.x(at)));
                t = at.checked_add(step);
            }
        }
        ticks.sort_by_key(|t| t.0);
        ticks.dedup_by_key(|t| t.0);
        let mut last_label = f64::NEG_INFINITY;
        ticks
            .into_iter()
            .map(|(t, x)| {
                let room = text_width(&fmt_ms(t), 10.0) / 2.0 + text_width(&fmt_ms(t), 10.0);
                let labelled = x - last_label >= room.max(44.0);
                if labelled {
                    last_label = x;
                }
                (t, x, labelled)
            })
            .collect()
    }
}

/// The smallest of 1, 2, 5 × 10^k milliseconds that is at least `ms`.
fn nice_step(ms: f64) -> u64 {
    let mut base = 1u64;
    loop {
        for m in [1, 2, 5] {
            let step = base * m;
            if step as f64 >= ms {
                return step;
            }
        }
        base = base.saturating_mul(10);
        if base >= u64::MAX / 10 {
            return base;
        }
    }
}

/// A state row: a machine, and the channel for data channels.
type RowKey = (Machine, Option<String>);

/// `ice_connection`, `data_channel [chat]`.
fn row_label((machine, channel): &RowKey) -> String {
    match channel {
        Some(c) => format!("{machine} [{c}]"),
        None => machine.to_string(),
    }
}

/// Everything the SVG needs, computed once.
struct Timeline<'a> {
    trace: &'a Trace,
    scale: Scale,
    rows: Vec<RowKey>,
    /// All events happened at the same time (an untimed trace): the axis shows event
    /// order instead.
    ordinal: bool,
}

impl<'a> Timeline<'a> {
    fn new(trace: &'a Trace) -> Timeline<'a> {
        let ordinal =
            trace.events.len() > 1 && trace.events.iter().all(|e| e.t_ms == trace.events[0].t_ms);
        let positions: Vec<u64> = if ordinal {
            (0..trace.events.len() as u64).collect()
        } else {
            trace.events.iter().map(|e| e.t_ms).collect()
        };
        let scale = Scale::new(&positions, GUTTER, WIDTH - GUTTER - RIGHT - TAIL);
        let rows: BTreeSet<RowKey> = trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::State {
                    machine, channel, ..
                } => Some((*machine, channel.clone())),
                _ => None,
            })
            .collect();
        Timeline {
            trace,
            scale,
            rows: rows.into_iter().collect(),
            ordinal,
        }
    }

    /// The x of event `i`.
    fn x(&self, i: usize) -> f64 {
        if self.ordinal {
            self.scale.x(i as u64)
        } else {
            self.scale.x(self.trace.events[i].t_ms)
        }
    }

    /// The label of an axis position: a time, or an event index.
    fn axis_label(&self, position: u64) -> String {
        if self.ordinal {
            format!("#{position}")
        } else {
            fmt_ms(position)
        }
    }

    fn lane_height(&self) -> f64 {
        LANE_HEAD + self.rows.len() as f64 * (ROW + ROW_GAP) + MSG_ROW + 6.0
    }

    fn lane_top(&self, peer: PeerId) -> f64 {
        AXIS_Y + 16.0 + peer.index() as f64 * (self.lane_height() + LANE_GAP)
    }

    fn row_top(&self, peer: PeerId, row: usize) -> f64 {
        self.lane_top(peer) + LANE_HEAD + row as f64 * (ROW + ROW_GAP)
    }

    fn msg_center(&self, peer: PeerId) -> f64 {
        self.row_top(peer, self.rows.len()) + MSG_ROW / 2.0
    }

    fn render(&self, out: &mut String) {
        let lanes_top = self.lane_top(PeerId::A);
        let lanes_bottom = self.lane_top(PeerId::B) + self.lane_height();
        let height = lanes_bottom + 8.0;
        let x_end = WIDTH - RIGHT;
        let _ = write!(
            out,
            "<div class=\"scroll\"><svg class=\"timeline\" viewBox=\"0 0 {WIDTH} {height}\" \
             width=\"{WIDTH}\" height=\"{height}\" role=\"img\" \
             aria-label=\"timeline of the trace\">\n{SVG_DEFS}"
        );

        // Lanes: background, header, row labels.
        for peer in PeerId::BOTH {
            let top = self.lane_top(peer);
            let (name, role) = match peer {
                PeerId::A => ("A", "offerer"),
                PeerId::B => ("B", "answerer"),
            };
            let _ = writeln!(
                out,
                "<rect class=\"lane\" x=\"4\" y=\"{top}\" width=\"{}\" height=\"{}\" rx=\"6\"/>\
                 <text class=\"lane-name\" x=\"14\" y=\"{}\">{name} <tspan class=\"muted\">\
                 {role}</tspan></text>",
                WIDTH - 8.0,
                self.lane_height(),
                top + 16.0
            );
            for (r, key) in self.rows.iter().enumerate() {
                let label = row_label(key);
                let _ = writeln!(
                    out,
                    "<text class=\"row-label\" x=\"{}\" y=\"{}\">{}</text>",
                    GUTTER - 10.0,
                    self.row_top(peer, r) + ROW / 2.0 + 4.0,
                    esc(&label)
                );
            }
            let y = self.msg_center(peer);
            let _ = writeln!(
                out,
                "<text class=\"row-label\" x=\"{}\" y=\"{}\">messages</text>\
                 <line class=\"msg-axis\" x1=\"{GUTTER}\" y1=\"{y}\" x2=\"{x_end}\" y2=\"{y}\"/>",
                GUTTER - 10.0,
                y + 4.0
            );
        }

        // Axis and grid.
        let axis_y = AXIS_Y;
        let _ = writeln!(
            out,
            "<line class=\"axis\" x1=\"{GUTTER}\" y1=\"{axis_y}\" x2=\"{x_end}\" y2=\"{axis_y}\"/>"
        );
        for (t, x, labelled) in self.scale.ticks() {
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{lanes_bottom}\"/>\
                 <line class=\"tick\" x1=\"{x:.1}\" y1=\"{axis_y}\" x2=\"{x:.1}\" y2=\"{}\"/>",
                axis_y + 5.0
            );
            if labelled {
                let _ = writeln!(
                    out,
                    "<text class=\"tick-label\" x=\"{x:.1}\" y=\"{}\">{}</text>",
                    axis_y - 10.0,
                    self.axis_label(t)
                );
            }
        }

        let on_top = self.bands(out);

        // Compressed idle stretches: hatched across both lanes, labelled on the axis.
        for seg in self.scale.segments.iter().filter(|s| s.idle) {
            let d = fmt_ms(seg.t1 - seg.t0);
            let mid = (seg.x0 + seg.x1) / 2.0;
            let _ = writeln!(
                out,
                "<g class=\"idle\"><title>{d} with no events, compressed \
                 ({} to {})</title>\
                 <rect x=\"{:.1}\" y=\"{lanes_top}\" width=\"{:.1}\" height=\"{}\" \
                 fill=\"url(#idle)\"/>\
                 <rect class=\"idle-axis\" x=\"{:.1}\" y=\"{}\" width=\"{:.1}\" height=\"14\"/>\
                 <text class=\"idle-label\" x=\"{mid:.1}\" y=\"{}\">{d}</text></g>",
                fmt_ms(seg.t0),
                fmt_ms(seg.t1),
                seg.x0,
                seg.x1 - seg.x0,
                lanes_bottom - lanes_top,
                seg.x0 + 2.0,
                axis_y - 7.0,
                seg.x1 - seg.x0 - 4.0,
                axis_y + 3.5,
            );
        }

        out.push_str(&on_top);
        self.overlays(out, axis_y, lanes_bottom);
        self.marks(out);
        out.push_str("</svg></div>\n");
    }

    /// The coloured state bands of every row of both lanes. Returns what goes on top of
    /// the idle hatching: the bands' labels and the slivers of states that lasted no time.
    fn bands(&self, out: &mut String) -> String {
        let x_end = WIDTH - RIGHT;
        let events = &self.trace.events;
        let mut changes: BTreeMap<(PeerId, usize), Vec<usize>> = BTreeMap::new();
        for (i, e) in events.iter().enumerate() {
            if let (
                Some(peer),
                EventKind::State {
                    machine, channel, ..
                },
            ) = (e.peer, &e.kind)
            {
                let key = (*machine, channel.clone());
                if let Some(r) = self.rows.iter().position(|k| *k == key) {
                    changes.entry((peer, r)).or_default().push(i);
                }
            }
        }
        let mut on_top = String::new();
        for peer in PeerId::BOTH {
            for r in 0..self.rows.len() {
                let y = self.row_top(peer, r);
                let Some(list) = changes.get(&(peer, r)) else {
                    let _ = writeln!(
                        out,
                        "<rect class=\"no-band\" x=\"{GUTTER}\" y=\"{y}\" width=\"{}\" \
                         height=\"{ROW}\"><title>no events</title></rect>",
                        x_end - GUTTER
                    );
                    continue;
                };
                // (state, from event, until event, assumed), `None` for the start and
                // the end of the trace: before the first change the row is in the first
                // change's `from` state.
                let mut spans: Vec<(&str, Option<usize>, Option<usize>, bool)> = Vec::new();
                for (k, &i) in list.iter().enumerate() {
                    let EventKind::State { from, to, .. } = &events[i].kind else {
                        continue;
                    };
                    if k == 0 {
                        spans.push((from, None, Some(i), true));
                    }
                    spans.push((to, Some(i), list.get(k + 1).copied(), false));
                }
                let row_name = format!(
                    "{} {}",
                    peer.as_str().to_uppercase(),
                    row_label(&self.rows[r])
                );
                for (state, start, end, assumed) in spans {
                    let x0 = start.map_or(self.scale.x(0), |i| self.x(i));
                    let x1 = end.map_or(x_end, |i| self.x(i));
                    let (fill, ink) = state_colors(state);
                    let t0 = start.map_or(0, |i| events[i].t_ms);
                    let until = end.map_or_else(|| "end".to_owned(), |i| fmt_ms(events[i].t_ms));
                    let tip = format!(
                        "{row_name}: {state}, {} to {until}{}",
                        fmt_ms(t0),
                        if assumed {
                            " (state before the first change)"
                        } else {
                            ""
                        }
                    );
                    if x1 - x0 < 1.5 {
                        // A state that lasted no time: a thin sliver, drawn last.
                        let _ = writeln!(
                            on_top,
                            "<rect class=\"sliver\" x=\"{:.1}\" y=\"{}\" width=\"3\" \
                             height=\"{ROW}\" fill=\"{fill}\"><title>{}</title></rect>",
                            x0 - 1.5,
                            y - 2.0,
                            esc(&tip)
                        );
                        continue;
                    }
                    let class = if assumed { "band assumed" } else { "band" };
                    let _ = writeln!(
                        out,
                        "<g class=\"{class}\"><title>{}</title><rect x=\"{x0:.1}\" y=\"{y}\" \
                         width=\"{:.1}\" height=\"{ROW}\" fill=\"{fill}\"/></g>",
                        esc(&tip),
                        x1 - x0
                    );
                    if x1 - x0 >= text_width(state, 10.0) + 8.0 {
                        let _ = writeln!(
                            on_top,
                            "<text class=\"band-label\" x=\"{:.1}\" y=\"{}\" fill=\"{ink}\">{}</text>",
                            x0 + 4.0,
                            y + ROW / 2.0 + 3.5,
                            esc(state)
                        );
                    }
                }
            }
        }
        on_top
    }

    /// App calls, faults and violations: lines across both lanes, flags above the axis.
    fn overlays(&self, out: &mut String, axis_y: f64, bottom: f64) {
        let mut flag_ends = [f64::NEG_INFINITY; FLAG_ROWS];
        for (i, e) in self.trace.events.iter().enumerate() {
            let (class, label, tip) = match &e.kind {
                EventKind::App { action, detail } | EventKind::Fault { action, detail } => {
                    let label = match detail {
                        Some(d) => format!("{action} {d}"),
                        None => action.clone(),
                    };
                    (
                        e.name(),
                        format!("{label} · {}", fmt_ms(e.t_ms)),
                        describe(e),
                    )
                }
                EventKind::Violation { invariant, .. } => (
                    "violation",
                    format!("! {invariant} · {}", fmt_ms(e.t_ms)),
                    describe(e),
                ),
                _ => continue,
            };
            let x = self.x(i);
            let width = text_width(&label, 10.0) + 10.0;
            let row = (0..FLAG_ROWS)
                .find(|&r| flag_ends[r] + 4.0 <= x)
                .unwrap_or_else(|| {
                    (0..FLAG_ROWS)
                        .min_by(|&a, &b| flag_ends[a].total_cmp(&flag_ends[b]))
                        .unwrap_or(0)
                });
            flag_ends[row] = x + width;
            let fy = 4.0 + row as f64 * FLAG_ROW;
            let tip = format!("{} · {}", fmt_ms(e.t_ms), tip);
            let _ = write!(
                out,
                "<a href=\"#ev-{i}\"><g class=\"{class}\"><title>{}</title>",
                esc(&tip)
            );
            if class == "violation" {
                let _ = write!(
                    out,
                    "<rect class=\"violation-band\" x=\"{:.1}\" y=\"{axis_y}\" width=\"10\" \
                     height=\"{}\"/>",
                    x - 5.0,
                    bottom - axis_y
                );
            }
            let _ = writeln!(
                out,
                "<line class=\"{class}-line\" x1=\"{x:.1}\" y1=\"{fy}\" x2=\"{x:.1}\" y2=\"{bottom}\"/>\
                 <rect class=\"{class}-flag\" x=\"{x:.1}\" y=\"{fy}\" width=\"{width:.1}\" \
                 height=\"{}\" rx=\"3\"/><text class=\"flag-label\" x=\"{:.1}\" y=\"{}\">{}</text></g></a>",
                FLAG_ROW - 2.0,
                x + 5.0,
                fy + FLAG_ROW - 5.5,
                esc(&label)
            );
        }
    }

    /// Message marks (and flight lines from each send to its delivery) and callbacks.
    fn marks(&self, out: &mut String) {
        let events = &self.trace.events;
        // Place marks, nudging marks at the same spot of a row apart.
        let mut pos: Vec<Option<(f64, f64)>> = vec![None; events.len()];
        let mut last_x = [f64::NEG_INFINITY; 2];
        for (i, e) in events.iter().enumerate() {
            let Some(peer) = e.peer else { continue };
            if matches!(e.kind, EventKind::State { .. }) {
                continue;
            }
            let mut x = self.x(i);
            let prev = last_x[peer.index()];
            if x < prev + 11.0 && prev + 11.0 <= x + 33.0 {
                x = prev + 11.0;
            }
            last_x[peer.index()] = x;
            let y = self.msg_center(peer);
            // Callbacks sit above the line, the rest on it.
            let y = if matches!(e.kind, EventKind::Callback { .. }) {
                y - 9.0
            } else {
                y
            };
            pos[i] = Some((x, y));
        }

        // Flight lines: from each transport send to the delivery that ends it.
        for (s, d) in self.trace.flights() {
            if !matches!(events[d].kind, EventKind::Deliver { .. }) {
                continue;
            }
            if let (Some((x1, y1)), Some((x2, y2))) = (pos[s], pos[d]) {
                let _ = writeln!(
                    out,
                    "<line class=\"flight\" x1=\"{x1:.1}\" y1=\"{y1}\" \
                     x2=\"{x2:.1}\" y2=\"{y2}\"/>"
                );
            }
        }

        for (i, e) in events.iter().enumerate() {
            let Some((x, y)) = pos[i] else { continue };
            let shape = match &e.kind {
                EventKind::Send {
                    outcome, flushed, ..
                } => match (outcome, flushed) {
                    (SendOutcome::Sent, true) => triangle_right(x, y, "m-flush"),
                    (SendOutcome::Sent, false) => {
                        format!("<circle class=\"m-sent\" cx=\"{x:.1}\" cy=\"{y}\" r=\"5\"/>")
                    }
                    (SendOutcome::Queued, _) => {
                        format!("<circle class=\"m-queued\" cx=\"{x:.1}\" cy=\"{y}\" r=\"4.5\"/>")
                    }
                    (SendOutcome::Error, _) => cross(x, y, "m-error"),
                    (SendOutcome::Rejected, _) => format!(
                        "<rect class=\"m-rejected\" x=\"{:.1}\" y=\"{}\" width=\"9\" height=\"9\"/>",
                        x - 4.5,
                        y - 4.5
                    ),
                },
                EventKind::Deliver { .. } => format!(
                    "<path class=\"m-deliver\" d=\"M{x:.1} {} l6 6 l-6 6 l-6 -6 z\"/>",
                    y - 6.0
                ),
                EventKind::Drop { .. } => format!(
                    "<path class=\"m-drop\" d=\"M{:.1} {} h11 l-5.5 9.5 z\"/>",
                    x - 5.5,
                    y - 5.0
                ),
                EventKind::Callback { .. } => format!(
                    "<circle class=\"m-callback\" cx=\"{x:.1}\" cy=\"{y}\" r=\"2.5\"/>"
                ),
                _ => continue,
            };
            let tip = format!(
                "{} · {} · {}",
                fmt_ms(e.t_ms),
                e.peer.map_or("*", PeerId::as_str),
                describe(e)
            );
            let _ = writeln!(
                out,
                "<a href=\"#ev-{i}\"><g class=\"mark\"><title>{}</title>{shape}</g></a>",
                esc(&tip)
            );
        }
    }
}

fn cross(x: f64, y: f64, class: &str) -> String {
    format!(
        "<path class=\"{class}\" d=\"M{:.1} {} l9 9 M{:.1} {} l-9 9\"/>",
        x - 4.5,
        y - 4.5,
        x + 4.5,
        y - 4.5
    )
}

fn triangle_right(x: f64, y: f64, class: &str) -> String {
    format!(
        "<path class=\"{class}\" d=\"M{:.1} {} l10 6 l-10 6 z\"/>",
        x - 5.0,
        y - 6.0
    )
}

/// The counts at the top of the page.
fn chips(out: &mut String, s: &Summary) {
    out.push_str("<div class=\"chips\">\n");
    let _ = writeln!(
        out,
        "<span class=\"chip\"><b>{}</b> events</span>\
         <span class=\"chip\"><b>{}</b> run</span>",
        s.events,
        fmt_ms(s.end_ms)
    );
    let outcomes = s.outcome_counts(" · ");
    let _ = writeln!(
        out,
        "<span class=\"chip\"><b>{}</b> sends <span class=\"muted\">{outcomes} · flushed {}</span></span>\
         <span class=\"chip\"><b>{}</b> deliveries</span>",
        s.total_sends(),
        s.flushed,
        s.deliveries
    );
    let by = |m: &BTreeMap<String, usize>| {
        esc(&join_counts(m.iter().map(|(k, n)| (k.as_str(), *n)), " · "))
    };
    let _ = writeln!(
        out,
        "<span class=\"chip\"><b>{}</b> drops <span class=\"muted\">{}</span></span>",
        s.total_drops(),
        by(&s.drops)
    );
    if s.total_violations() == 0 {
        out.push_str("<span class=\"chip ok\">no violations</span>\n");
    } else {
        let _ = writeln!(
            out,
            "<span class=\"chip bad\"><b>{}</b> violations <span>{}</span></span>",
            s.total_violations(),
            by(&s.violations)
        );
    }
    out.push_str("</div>\n");
}

/// The key to colours and marks.
fn legend(out: &mut String) {
    out.push_str("<div class=\"legend\">\n");
    for state in [
        "new",
        "checking / connecting",
        "connected / open",
        "disconnected",
        "failed",
        "closing",
        "closed",
    ] {
        let (fill, _) = state_colors(state.split(' ').next().unwrap_or(state));
        let _ = writeln!(
            out,
            "<span><i class=\"sw\" style=\"background:{fill}\"></i>{state}</span>"
        );
    }
    let key = |shape: String| {
        format!("<svg class=\"key\" viewBox=\"0 0 16 16\" width=\"16\" height=\"16\">{shape}</svg>")
    };
    let marks = [
        (
            key("<circle class=\"m-sent\" cx=\"8\" cy=\"8\" r=\"5\"/>".into()),
            "sent",
        ),
        (
            key("<circle class=\"m-queued\" cx=\"8\" cy=\"8\" r=\"4.5\"/>".into()),
            "queued",
        ),
        (key(triangle_right(8.0, 8.0, "m-flush")), "flushed"),
        (key(cross(8.0, 8.0, "m-error")), "send error"),
        (
            key("<rect class=\"m-rejected\" x=\"3.5\" y=\"3.5\" width=\"9\" height=\"9\"/>".into()),
            "rejected",
        ),
        (
            key("<path class=\"m-deliver\" d=\"M8 2 l6 6 l-6 6 l-6 -6 z\"/>".into()),
            "delivered",
        ),
        (
            key("<path class=\"m-drop\" d=\"M2.5 3 h11 l-5.5 9.5 z\"/>".into()),
            "dropped",
        ),
        (
            key("<circle class=\"m-callback\" cx=\"8\" cy=\"8\" r=\"2.5\"/>".into()),
            "callback",
        ),
        (
            key("<line class=\"app-line\" x1=\"8\" y1=\"0\" x2=\"8\" y2=\"16\"/>".into()),
            "app call",
        ),
        (
            key("<line class=\"fault-line\" x1=\"8\" y1=\"0\" x2=\"8\" y2=\"16\"/>".into()),
            "fault",
        ),
        (
            key("<line class=\"violation-line\" x1=\"8\" y1=\"0\" x2=\"8\" y2=\"16\"/>".into()),
            "violation",
        ),
        (
            key("<rect x=\"0\" y=\"0\" width=\"16\" height=\"16\" fill=\"url(#idle)\"/>".into()),
            "idle time, compressed",
        ),
    ];
    for (svg, name) in marks {
        let _ = writeln!(out, "<span>{svg}{name}</span>");
    }
    out.push_str("</div>\n");
}

/// The violations, each linked to its row of the table.
fn violations(out: &mut String, trace: &Trace) {
    let list: Vec<(usize, &TraceEvent)> = trace
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.kind, EventKind::Violation { .. }))
        .collect();
    let _ = writeln!(
        out,
        "<section class=\"card\">\n<h2>Violations ({})</h2>",
        list.len()
    );
    if list.is_empty() {
        out.push_str("<p class=\"ok-text\">No invariant was violated.</p>\n</section>\n");
        return;
    }
    out.push_str("<ol class=\"violations\">\n");
    for (i, e) in list {
        let EventKind::Violation { invariant, detail } = &e.kind else {
            continue;
        };
        let peer = e.peer.map(|p| format!(" on {p}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "<li><a href=\"#ev-{i}\">{}</a>{peer} <b>{}</b> {}</li>",
            fmt_ms(e.t_ms),
            esc(invariant),
            esc(detail)
        );
    }
    out.push_str("</ol>\n</section>\n");
}

/// Every event, one row each.
fn table(out: &mut String, trace: &Trace) {
    let _ = writeln!(
        out,
        "<section class=\"card\">\n<h2>Events ({})</h2>\n<table class=\"events\">\n\
         <thead><tr><th>#</th><th>t (ms)</th><th>peer</th><th>event</th><th>detail</th></tr>\
         </thead>\n<tbody>",
        trace.events.len()
    );
    for (i, e) in trace.events.iter().enumerate() {
        let mut class = format!("k-{}", e.name());
        if let EventKind::Send { outcome, via, .. } = &e.kind {
            let _ = write!(class, " o-{}", outcome.as_str());
            if *via == Via::Guarded {
                class.push_str(" guarded");
            }
        }
        let _ = writeln!(
            out,
            "<tr id=\"ev-{i}\" class=\"{class}\"><td>{i}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td></tr>",
            e.t_ms,
            e.peer.map_or("*", PeerId::as_str),
            e.name(),
            esc(&describe(e))
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// Pattern for compressed idle time, shared by the timeline and the legend.
const SVG_DEFS: &str = "<defs><pattern id=\"idle\" patternUnits=\"userSpaceOnUse\" width=\"6\" \
height=\"6\" patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#ffffff\" \
fill-opacity=\"0.5\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#64748b\" \
stroke-opacity=\"0.55\" stroke-width=\"1.5\"/></pattern></defs>\n";

const CSS: &str = r#"
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f4f5f7; --red:#d63a3a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 20px 28px 40px; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
h1 { font-size: 20px; margin: 0 0 10px; }
h2 { font-size: 15px; margin: 0 0 10px; }
.muted { color: var(--muted); font-weight: normal; }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin-bottom: 16px; }
.chip { background: #fff; border: 1px solid var(--line); border-radius: 999px; padding: 3px 12px; }
.chip.ok { background: #e8f6ee; border-color: #b7e2c7; color: #1d6b3c; }
.chip.bad { background: #fdecec; border-color: #f2b8b8; color: #9b1c1c; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; margin-bottom: 16px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: var(--muted);
  margin-bottom: 8px; align-items: center; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.sw { display: inline-block; width: 14px; height: 10px; border-radius: 2px; }
.key { overflow: visible; }
.scroll { overflow-x: auto; }
svg.timeline { display: block; max-width: none; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: var(--ink); }
.lane { fill: #f8fafc; stroke: var(--line); }
.lane-name { font-weight: 600; font-size: 13px; }
.lane-name .muted { fill: var(--muted); font-weight: normal; font-size: 11px; }
.row-label { text-anchor: end; fill: #4b5563; }
.msg-axis { stroke: #cbd5e1; stroke-dasharray: 2 3; }
.axis { stroke: #9ca3af; }
.tick { stroke: #9ca3af; }
.grid { stroke: #e5e7eb; }
.tick-label { text-anchor: middle; font-size: 10px; fill: var(--muted); }
.band rect { stroke: #ffffff; stroke-width: 1; }
.band.assumed rect { opacity: .55; }
.band-label { font-size: 10px; pointer-events: none; }
.no-band { fill: none; stroke: #e5e7eb; stroke-dasharray: 3 3; }
.sliver { stroke: #111827; stroke-width: .5; }
.idle-axis { fill: #fff; stroke: #cbd5e1; }
.idle-label { text-anchor: middle; font-size: 9px; fill: #475569; }
.fault-line { stroke: #374151; stroke-width: 1.2; stroke-dasharray: 5 3; }
.fault-flag { fill: #374151; }
.app-line { stroke: #1e40af; stroke-width: 1.2; stroke-dasharray: 2 3; }
.app-flag { fill: #1e40af; }
.violation-line { stroke: var(--red); stroke-width: 2; }
.violation-flag { fill: var(--red); }
.violation-band { fill: var(--red); opacity: .12; }
.flag-label { fill: #fff; font-size: 10px; font-weight: 600; }
.flight { stroke: #2f9e5b; stroke-width: 1.2; opacity: .55; }
.m-sent { fill: #2563eb; stroke: #fff; stroke-width: 1; }
.m-queued { fill: #fff; stroke: #d97706; stroke-width: 2; }
.m-flush { fill: #2563eb; stroke: #fff; stroke-width: 1; }
.m-error { stroke: var(--red); stroke-width: 2.6; stroke-linecap: round; fill: none; }
.m-rejected { fill: #7f1d1d; }
.m-deliver { fill: #2f9e5b; stroke: #fff; stroke-width: 1; }
.m-drop { fill: #b45309; stroke: #fff; stroke-width: 1; }
.m-callback { fill: #6b7280; }
.mark:hover, .app:hover, .fault:hover, .violation:hover { filter: brightness(1.25); }
ol.violations { margin: 0; padding-left: 22px; }
ol.violations li { color: #7f1d1d; margin: 3px 0; }
ol.violations b { color: var(--red); }
.ok-text { color: #1d6b3c; margin: 0; }
table.events { border-collapse: collapse; width: 100%; font-size: 12.5px; }
table.events th { text-align: left; position: sticky; top: 0; background: #f8fafc;
  border-bottom: 1px solid var(--line); padding: 5px 8px; }
table.events td { padding: 3px 8px; border-bottom: 1px solid #f1f5f9; vertical-align: top; }
table.events td:nth-child(1), table.events td:nth-child(2) { text-align: right;
  font-variant-numeric: tabular-nums; color: var(--muted); }
table.events td:nth-child(5) { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table.events tr:target { outline: 2px solid #2563eb; }
tr.k-state td:nth-child(4) { color: #475569; }
tr.k-fault { background: #f3f4f6; }
tr.k-app { background: #eef2ff; }
tr.k-violation { background: #fdecec; color: #9b1c1c; font-weight: 600; }
tr.o-error td:nth-child(5), tr.o-rejected td:nth-child(5) { color: var(--red); }
tr.k-deliver td:nth-child(5) { color: #1d6b3c; }
tr.k-drop td:nth-child(5) { color: #b45309; }
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::text::fixtures::*;
    use crate::trace::*;

    #[test]
    fn one_self_contained_page() {
        let html = send_before_open().render_html("send before open");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.ends_with("</html>\n"));
        assert!(html.contains("<title>send before open</title>"));
        let lower = html.to_lowercase();
        for banned in [
            "http:", "https:", "<script", "<link", "@import", "src=", "//",
        ] {
            assert!(!lower.contains(banned), "page contains {banned:?}");
        }
        // Every url() is a reference inside the page.
        for (pos, _) in lower.match_indices("url(") {
            assert!(
                lower[pos..].starts_with("url(#"),
                "{}",
                &lower[pos..pos + 20]
            );
        }
    }

    #[test]
    fn timeline_has_bands_marks_faults_and_violations() {
        let html = send_before_open().render_html("t");
        // A row for each machine, both peers.
        for row in [
            "ice_connection",
            "peer_connection",
            "data_channel [chat]",
            "signaling",
        ] {
            assert_eq!(html.matches(&format!(">{row}</text>")).count(), 2, "{row}");
        }
        // The bands take the state colours: checking amber, failed red.
        let band_fill = |tip: &str| {
            let at = html.find(&format!("<title>{tip}</title><rect")).expect(tip);
            let rest = &html[at..];
            let fill = rest.find("fill=\"").unwrap() + 6;
            rest[fill..fill + 7].to_owned()
        };
        assert_eq!(
            band_fill("A ice_connection: checking, 3 ms to 12 ms"),
            "#f5b83d"
        );
        assert_eq!(
            band_fill("B peer_connection: failed, 32.002 s to end"),
            "#d63a3a"
        );
        assert_eq!(
            band_fill("A data_channel [chat]: open, 36 ms to 60 s"),
            "#2f9e5b"
        );
        assert!(html.contains("fill=\"#1f2937\">checking</text>"));
        // One mark per message event: 6 sends, 1 flush, 2 deliveries, 2 drops, 4 callbacks.
        assert_eq!(html.matches("<g class=\"mark\">").count(), 15);
        assert_eq!(html.matches("class=\"m-error\"").count(), 2); // one in the legend
        assert_eq!(html.matches("<line class=\"flight\"").count(), 2);
        // Faults and the violation, with tooltips, linked to the table.
        assert!(html.contains("<a href=\"#ev-25\"><g class=\"fault\"><title>1 s · fault partition"));
        assert!(html.contains(
            "<g class=\"violation\"><title>5 ms · !! violation no-send-on-non-open: \
             a sent #0 on chat while it was connecting</title>"
        ));
        assert!(html.contains(">! no-send-on-non-open · 5 ms</text>"));
        // Idle time is compressed, and says so.
        assert!(html.contains("<title>17.5 s with no events, compressed (14.5 s to 32 s)</title>"));
    }

    #[test]
    fn violations_are_listed_and_the_table_has_every_event() {
        let trace = send_before_open();
        let html = trace.render_html("t");
        assert!(html.contains("<h2>Violations (1)</h2>"));
        assert!(html.contains(
            "<li><a href=\"#ev-10\">5 ms</a> <b>no-send-on-non-open</b> \
             a sent #0 on chat while it was connecting</li>"
        ));
        assert!(html.contains(&format!("<h2>Events ({})</h2>", trace.events.len())));
        assert_eq!(html.matches("<tr id=\"ev-").count(), trace.events.len());
        assert!(html.contains(
            "<tr id=\"ev-9\" class=\"k-send o-error\"><td>9</td><td>5</td><td>a</td><td>send</td>\
             <td>send[chat] #0 raw (connecting) -&gt; error: data channel is not open yet</td></tr>"
        ));
        assert!(html.contains("<span class=\"chip bad\"><b>1</b> violations"));
    }

    #[test]
    fn all_text_is_escaped() {
        let mut trace = Trace::new();
        trace.push(violation(
            3,
            "<x>",
            "a & b \"c\" <script>alert('x')</script>",
        ));
        let html = trace.render_html("<b>title</b> & more");
        assert!(html.contains("<title>&lt;b&gt;title&lt;/b&gt; &amp; more</title>"));
        assert!(html
            .contains("a &amp; b &quot;c&quot; &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<x>"));
    }

    #[test]
    fn an_untimed_trace_is_drawn_in_event_order() {
        let mut trace = send_before_open();
        for e in &mut trace.events {
            e.t_ms = 0;
        }
        let html = trace.render_html("untimed");
        assert!(html.contains("Every event happened at 0 ms: the axis shows the order"));
        assert!(html.contains(">#10</text>"));
        // Bands still have width: ICE on a was checking from event 5 to event 12.
        let t = Timeline::new(&trace);
        assert!(t.ordinal);
        assert!(t.x(12) - t.x(5) > 100.0);
        assert!(html.contains("<title>A ice_connection: checking, 0 ms to 0 ms</title><rect"));
        assert!(!Timeline::new(&send_before_open()).ordinal);
    }

    #[test]
    fn a_clean_or_empty_trace_says_so() {
        let html = Trace::new().render_html("empty");
        assert!(html.contains("The trace has no events."));
        assert!(html.contains("No invariant was violated."));
        assert!(html.contains("<span class=\"chip ok\">no violations</span>"));
    }

    #[test]
    fn the_scale_compresses_only_long_idle_gaps() {
        // Dense start, then long silences.
        let times = [0, 1, 2, 3, 5, 8, 12, 20, 30, 5000, 5004, 60000];
        let s = Scale::new(&times, 100.0, 1000.0);
        let idle: Vec<(u64, u64)> = s
            .segments
            .iter()
            .filter(|g| g.idle)
            .map(|g| (g.t0, g.t1))
            .collect();
        assert_eq!(idle, [(30, 5000), (5004, 60000)]);
        // Monotone, within range, and the dense part is readable.
        let xs: Vec<f64> = times.iter().map(|&t| s.x(t)).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
        assert!((xs[0] - 100.0).abs() < 1e-9 && (xs[11] - 1100.0).abs() < 1e-6);
        assert!(xs[1] - xs[0] >= TARGET_GAP_PX);
        // A short, even trace is one linear stretch.
        let s = Scale::new(&[0, 10, 20, 30, 40], 0.0, 400.0);
        assert_eq!(s.segments.len(), 1);
        assert!((s.x(20) - 200.0).abs() < 1e-9);
        // Degenerate traces do not divide by zero.
        assert!(Scale::new(&[], 0.0, 100.0).x(0).is_finite());
        assert!(Scale::new(&[7, 7], 0.0, 100.0).x(7).is_finite());
    }

    #[test]
    fn times_and_ticks_read_well() {
        assert_eq!(fmt_ms(612), "612 ms");
        assert_eq!(fmt_ms(7000), "7 s");
        assert_eq!(fmt_ms(1500), "1.5 s");
        assert_eq!(fmt_ms(32002), "32.002 s");
        assert_eq!(nice_step(0.3), 1);
        assert_eq!(nice_step(3.0), 5);
        assert_eq!(nice_step(120.0), 200);
        let s = Scale::new(&[0, 1000], 0.0, 1000.0);
        let labels: Vec<u64> = s.ticks().into_iter().filter(|t| t.2).map(|t| t.0).collect();
        assert_eq!(
            labels,
            [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
        );
    }

    /// Any u64 time a trace may hold: the scale neither overflows nor wraps (a wrapped
    /// product drew short gaps as idle and idle ones as long), x grows with time, ticks
    /// stay in range, and times print exactly.
    #[test]
    fn far_apart_times_are_drawn_in_order() {
        assert_eq!(fmt_ms(u64::MAX), "18446744073709551.615 s");
        assert_eq!(fmt_ms(11_111_111_111_111_111_100), "11111111111111111.1 s");
        let times = [
            0,
            1,
            3,
            1u64 << 62,
            (1u64 << 62) + 7,
            u64::MAX - 1,
            u64::MAX,
        ];
        let s = Scale::new(&times, 0.0, 1000.0);
        let xs: Vec<f64> = times.iter().map(|&t| s.x(t)).collect();
        assert!(xs.windows(2).all(|w| w[0] < w[1]), "{xs:?}");
        assert!((xs[6] - 1000.0).abs() < 1e-6, "{xs:?}");
        let ticks = s.ticks();
        assert!(
            !ticks.is_empty() && ticks.len() < 100,
            "{} ticks",
            ticks.len()
        );
        assert!(ticks.iter().all(|t| (0.0..=1000.0 + 1e-6).contains(&t.1)));
        // The overflowing input of the trace_parse fuzzer: a median gap whose idle
        // threshold (20 times the median) is beyond u64.
        let big = 11_111_111_111_111_111_100u64;
        let s = Scale::new(&[big], 0.0, 1000.0);
        assert!(s.x(0) < s.x(big));
        let trace = Trace {
            events: vec![TraceEvent::global(
                big,
                EventKind::Fault {
                    action: "partition".into(),
                    detail: None,
                },
            )],
        };
        assert!(trace.render_html("far").contains("11111111111111111.1 s"));
    }
}
