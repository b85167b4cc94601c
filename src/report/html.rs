//! `report.html`: one self-contained page — the scenario, draws and seed, a plain-language
//! findings list, every chart and the key tables — that opens offline in any browser.
//!
//! Images are embedded as `data:` URIs rather than linked beside the page: a planner can
//! e-mail or archive the one file and it still shows every chart (the PNGs are also written
//! beside it, for pasting into documents). The page has no script and no external resource.
//!
//! Every number in a finding is a value of a table (summary.csv's `shortfall_prob` and
//! `gap_p50`/`gap_p95`, first_shortfall.csv's `years_likely` and `first_year_risk`), rounded
//! for reading, and each sentence names the statistic it quotes.

use std::fmt::Write;

use crate::output::OutFile;
use crate::report::charts::data::area_name;
use crate::report::charts::{ChartInfo, ChartOptions};
use crate::report::lang::{amount, grouped, prob};
use crate::report::tables::{P05, P50, P95, Tables, area_id, year_ranges};
use crate::report::{Lang, TIME_CONVENTION};

/// How strong a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strength {
    /// P(shortfall) ≥ 0.5 in some year.
    Likely,
    /// P(shortfall) reaches the scenario's risk level in some year, but never 0.5.
    Possible,
}

/// One finding: a town × resource at risk, with the table values it quotes.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Town index.
    pub area: usize,
    /// Resource index.
    pub res: usize,
    /// Likely or possible.
    pub strength: Strength,
    /// Years with P(shortfall) ≥ 0.5 (first_shortfall.csv `years_likely`).
    pub years_likely: Vec<i32>,
    /// The first year quoted: the first likely year, or the first year at the risk level.
    pub year: i32,
    /// summary.csv `shortfall_prob` in `year`.
    pub prob: f64,
    /// The year with the highest `shortfall_prob` (the earliest if tied) and that probability.
    pub peak: (i32, f64),
    /// The end year.
    pub end_year: i32,
    /// summary.csv `shortfall_prob` in the end year.
    pub end_prob: f64,
    /// summary.csv `gap_p50` in the end year (0 in draws without a shortfall).
    pub end_gap_p50: f64,
    /// summary.csv `gap_p95` in the end year.
    pub end_gap_p95: f64,
}

/// The findings, most urgent first: likely shortfalls by their first likely year, then
/// possible ones by the year the risk level is first reached (towns only).
pub fn findings(t: &Tables) -> Vec<Finding> {
    let m = t.model;
    let nr = m.resources.len();
    let rows = m.rows;
    let mut out = Vec::new();
    for a in 0..m.towns.len() {
        for r in 0..nr {
            let f = t.shortfall_facts(a, r);
            let res = &m.resources[r];
            let gap_integral = res.integral && res.capacity_integral;
            let end = rows - 1;
            let i_end = (a * nr + r) * rows + end;
            let peak_row = (0..rows).fold(0, |best, row| if f.probs[row] > f.probs[best] { row } else { best });
            let (strength, year) = match (f.years_likely.first(), f.first_year_risk) {
                (Some(&y), _) => (Strength::Likely, y),
                (None, Some(y)) => (Strength::Possible, y),
                (None, None) => continue,
            };
            out.push(Finding {
                area: a,
                res: r,
                strength,
                years_likely: f.years_likely.clone(),
                year,
                prob: f.probs[(year - m.t0) as usize],
                peak: (m.year(peak_row), f.probs[peak_row]),
                end_year: m.year(end),
                end_prob: f.probs[end],
                end_gap_p50: t.agg.gap[i_end].quantile(P50, gap_integral),
                end_gap_p95: t.agg.gap[i_end].quantile(P95, gap_integral),
            });
        }
    }
    out.sort_by_key(|f| (f.strength != Strength::Likely, f.year, std::cmp::Reverse((f.prob * 1e9) as u64)));
    out
}

/// A finding as a sentence (plain text).
pub fn sentence(t: &Tables, f: &Finding, lang: Lang) -> String {
    let town = area_name(t, f.area, lang);
    let r = &t.scenario.resources[f.res];
    let name = r.name.get(lang.code());
    let unit = r.unit.get(lang.code());
    let ranges = year_ranges(&f.years_likely).replace(';', ", ").replace('-', "–");
    match (f.strength, lang) {
        (Strength::Likely, Lang::En) => format!(
            "{town} — {}: shortfall likely (P ≥ 0.5) in {ranges}; P(shortfall) = {} in {}, {} in {}. Gap in {} \
             ({unit}): median {}, 95th percentile {}.",
            lower_first(name),
            prob(f.prob),
            f.year,
            prob(f.end_prob),
            f.end_year,
            f.end_year,
            amount(f.end_gap_p50),
            amount(f.end_gap_p95),
        ),
        (Strength::Likely, Lang::Zh) => format!(
            "{town}—{name}：{ranges}年很可能短缺（短缺概率 ≥ 0.5）；短缺概率 {}年为 {}，{}年为 {}。{}年缺口（{unit}）：中位数 {}，\
             第95百分位 {}。",
            f.year,
            prob(f.prob),
            f.end_year,
            prob(f.end_prob),
            f.end_year,
            amount(f.end_gap_p50),
            amount(f.end_gap_p95),
        ),
        (Strength::Possible, Lang::En) => format!(
            "{town} — {}: shortfall possible: P(shortfall) first reaches the risk level {} in {} (P = {}); its \
             highest is {} in {}.",
            lower_first(name),
            t.risk,
            f.year,
            prob(f.prob),
            prob(f.peak.1),
            f.peak.0,
        ),
        (Strength::Possible, Lang::Zh) => format!(
            "{town}—{name}：存在短缺风险：短缺概率于{}年首次达到风险水平 {}（P = {}），最高为 {}（{}年）。",
            f.year,
            t.risk,
            prob(f.prob),
            prob(f.peak.1),
            f.peak.0,
        ),
    }
}

/// "Primary school places" → "primary school places" (not for acronyms such as "CHS").
fn lower_first(s: &str) -> String {
    let mut ch = s.chars();
    match (ch.next(), ch.next()) {
        (Some(a), Some(b)) if a.is_uppercase() && !b.is_uppercase() => {
            a.to_lowercase().chain(s.chars().skip(1)).collect()
        }
        _ => s.to_string(),
    }
}

/// Opens a table and writes its header row; `left(i)` says which columns are left-aligned
/// (text), the others being right-aligned numbers.
pub(crate) fn table_head(h: &mut String, heads: &[impl AsRef<str>], left: impl Fn(usize) -> bool) {
    let _ = write!(h, "<table>\n<tr>");
    for (i, hd) in heads.iter().enumerate() {
        let _ = write!(h, "<th{}>{}</th>", if left(i) { " class=\"l\"" } else { "" }, esc(hd.as_ref()));
    }
    let _ = writeln!(h, "</tr>");
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(T[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads width and height from a PNG's header (for the `<img>` size attributes).
pub(crate) fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.len() < 24 || &bytes[1..4] != b"PNG" {
        return None;
    }
    let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Some((be(16), be(20)))
}

pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','Microsoft YaHei',sans-serif;\
max-width:1240px;margin:2em auto;padding:0 1.2em;color:#222;line-height:1.5}\
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
.meta{color:#555}figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #e5e5e5}\
figcaption{color:#555;font-size:.9em}table{border-collapse:collapse;font-size:.92em;margin:1em 0}\
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right}th{background:#f3f3f3}\
td.l,th.l{text-align:left}li{margin:.35em 0}.note{color:#555;font-size:.92em}";

/// The chart titles shown above the images, by file name.
fn caption(t: &Tables, name: &str, lang: Lang) -> String {
    let stem = name.trim_end_matches(".png");
    if stem == "population_fan" {
        return lang.t("Population by town", "各新城常住人口").into();
    }
    if stem == "shortfall_heatmap" {
        return lang.t("Probability of a shortfall, by town, service and year", "各新城各项设施逐年短缺概率").into();
    }
    if stem == "shortfall_years" {
        return lang.t("First shortfall year", "首次短缺年份").into();
    }
    if let Some(id) = stem.strip_prefix("pyramid_")
        && let Some(i) = t.scenario.town_index(id)
    {
        return format!("{}{}", area_name(t, i, lang), lang.t(": age–sex structure", "：年龄性别结构"));
    }
    if let Some(id) = stem.strip_prefix("demand_")
        && let Some(r) = t.scenario.resource_index(id)
    {
        return format!(
            "{}{}",
            t.scenario.resources[r].name.get(lang.code()),
            lang.t(": demand and capacity", "：需求与供给")
        );
    }
    name.to_string()
}

/// Builds `report.html` from the tables and the chart files (embedded as data URIs).
pub fn report(t: &Tables, info: &ChartInfo, opts: &ChartOptions, charts: &[OutFile]) -> Vec<u8> {
    let lang = opts.lang;
    let m = t.model;
    let code = lang.code();
    let (first, last) = (m.year(0), m.year(m.rows - 1));
    let mut h = String::new();
    let title = info.scenario.get(code);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\">\n<title>{} — capsim</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        lang.t("en", "zh-CN"),
        esc(title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    let meta = match lang {
        Lang::En => format!(
            "{} Monte Carlo draws · seed {} · capsim {} · years {first}–{last} · risk level {}",
            grouped(info.draws as f64, 0),
            esc(&info.seed),
            esc(&info.version),
            t.risk
        ),
        Lang::Zh => format!(
            "蒙特卡洛抽样 {} 次 · 随机种子 {} · capsim {} · {first}–{last}年 · 风险水平 {}",
            grouped(info.draws as f64, 0),
            esc(&info.seed),
            esc(&info.version),
            t.risk
        ),
    };
    let _ = writeln!(h, "<p class=\"meta\">{meta}</p>");
    if let Some(d) = &t.scenario.description {
        let _ = writeln!(h, "<p>{}</p>", esc(d));
    }
    let convention = lang.t(
        TIME_CONVENTION,
        "各行均为年末（12月31日）数据；基年一行为基期人口（2020年11月普查，视作2020年末）。出生、死亡和迁移为该行所示日历年的流量。计划于 Y \
         年投用的项目自 Y 加其延期年数的一行起计入。",
    );
    let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(convention));

    // Findings.
    let fs = findings(t);
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("Findings", "主要发现"));
    if fs.is_empty() {
        let s = match lang {
            Lang::En => format!(
                "No town × service reaches the risk level P(shortfall) ≥ {} in any year {first}–{last}.",
                t.risk
            ),
            Lang::Zh => format!("{first}–{last}年间，没有任何新城的任何设施短缺概率达到风险水平 {}。", t.risk),
        };
        let _ = writeln!(h, "<p>{}</p>", esc(&s));
    } else {
        let groups = [
            (
                Strength::Likely,
                lang.t("Shortfall likely (P ≥ 0.5 in some year)", "很可能短缺（某年短缺概率 ≥ 0.5）").to_string(),
            ),
            (
                Strength::Possible,
                match lang {
                    Lang::En => format!("Shortfall possible (P ≥ {} in some year, never 0.5)", t.risk),
                    Lang::Zh => format!("存在短缺风险（某年短缺概率 ≥ {}，但始终低于 0.5）", t.risk),
                },
            ),
        ];
        for (strength, heading) in groups {
            let group: Vec<&Finding> = fs.iter().filter(|f| f.strength == strength).collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(h, "<h3>{} — {}</h3>\n<ul>", esc(&heading), group.len());
            for f in group {
                let _ = writeln!(h, "<li>{}</li>", esc(&sentence(t, f, lang)));
            }
            let _ = writeln!(h, "</ul>");
        }
        let pairs = m.towns.len() * m.resources.len();
        let rest = pairs - fs.len();
        let s = match lang {
            Lang::En => format!(
                "The other {rest} of {pairs} town × service pairs stay below P(shortfall) = {} in every year. \
                 P(shortfall) is the share of draws in which year-end demand exceeds capacity (summary.csv, \
                 shortfall_prob). The gap is demand − capacity, counted as 0 in draws without a shortfall; its median \
                 and 95th percentile are summary.csv's gap_p50 and gap_p95.",
                t.risk
            ),
            Lang::Zh => format!(
                "其余 {rest} 个（共 {pairs} 个）新城×设施组合每年的短缺概率均低于 {}。短缺概率为年末需求超过供给的抽样比例（summary.csv 的 \
                 shortfall_prob）。缺口为需求 − 供给，无短缺的抽样计为 0；其中位数与第95百分位取自 summary.csv 的 gap_p50 与 gap_p95。",
                t.risk
            ),
        };
        let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&s));
    }

    // Key table 1: first year at the risk level, resource × town.
    let _ = writeln!(
        h,
        "<h2>{}</h2>",
        esc(&match lang {
            Lang::En => format!("First year with P(shortfall) ≥ {}", t.risk),
            Lang::Zh => format!("短缺概率首次 ≥ {} 的年份", t.risk),
        })
    );
    let _ = write!(h, "<table>\n<tr><th class=\"l\">{}</th>", lang.t("Service", "设施"));
    for a in 0..m.areas() {
        let _ = write!(h, "<th>{}</th>", esc(&area_name(t, a, lang)));
    }
    let _ = writeln!(h, "</tr>");
    for (r, res) in t.scenario.resources.iter().enumerate() {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(res.name.get(code)));
        for a in 0..m.areas() {
            let f = t.shortfall_facts(a, r);
            let _ = write!(h, "<td>{}</td>", f.first_year_risk.map_or("–".to_string(), |y| y.to_string()));
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(
        h,
        "<p class=\"note\">{}</p>",
        esc(&match lang {
            Lang::En => format!("– : not reached by {last}. From first_shortfall.csv, first_year_risk."),
            Lang::Zh => format!("–：{last}年前未达到。取自 first_shortfall.csv 的 first_year_risk。"),
        })
    );

    // Charts.
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("Charts", "图表"));
    for (name, bytes) in charts {
        let cap = caption(t, name, lang);
        let (w, ht) = png_size(bytes).unwrap_or((opts.width, opts.height));
        let _ = writeln!(
            h,
            "<figure id=\"{}\"><img src=\"data:image/png;base64,{}\" width=\"{w}\" height=\"{ht}\" alt=\"{}\">\
             <figcaption>{} ({})</figcaption></figure>",
            esc(name.trim_end_matches(".png")),
            base64(bytes),
            esc(&cap),
            esc(&cap),
            esc(name)
        );
    }

    // Key table 2: first shortfall year, every town × service.
    let _ =
        writeln!(h, "<h2>{}</h2>", lang.t("First shortfall year by town and service", "各新城各项设施首次短缺年份"));
    let heads: Vec<String> = vec![
        lang.t("Town", "新城").into(),
        lang.t("Service", "设施").into(),
        match lang {
            Lang::En => format!("P(shortfall by {last})"),
            Lang::Zh => format!("{last}年前短缺概率"),
        },
        lang.t("First year, 10 %", "首次短缺年份 第10百分位").into(),
        lang.t("median", "中位数").into(),
        lang.t("90 %", "第90百分位").into(),
        lang.t("Years with P ≥ 0.5", "短缺概率 ≥ 0.5 的年份").into(),
    ];
    table_head(&mut h, &heads, |i| i < 2);
    let none = match lang {
        Lang::En => format!("none by {last}"),
        Lang::Zh => format!("{last}年前无"),
    };
    let yr = |y: Option<i32>| y.map_or(none.clone(), |y| y.to_string());
    for a in 0..m.areas() {
        for (r, res) in t.scenario.resources.iter().enumerate() {
            let f = t.shortfall_facts(a, r);
            let likely = if f.years_likely.is_empty() { "–".to_string() } else { year_ranges(&f.years_likely) };
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&area_name(t, a, lang)),
                esc(res.name.get(code)),
                esc(&prob(f.prob_by_end)),
                yr(f.first_p10),
                yr(f.first_p50),
                yr(f.first_p90),
                esc(&likely.replace(';', ", "))
            );
        }
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(
        h,
        "<p class=\"note\">{}</p>",
        lang.t(
            "From first_shortfall.csv (all columns, probabilities rounded to two decimals).",
            "取自 first_shortfall.csv（概率保留两位小数）。"
        )
    );

    // Key table 3: population.
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("Population (year end)", "常住人口（年末）"));
    let mut years: Vec<usize> = (0..m.rows).filter(|r| (m.year(*r) - first) % 5 == 0).collect();
    if years.last() != Some(&(m.rows - 1)) {
        years.push(m.rows - 1);
    }
    let _ = write!(h, "<table>\n<tr><th class=\"l\">{}</th>", lang.t("Town", "新城"));
    for &row in &years {
        let _ = write!(h, "<th>{}</th>", m.year(row));
    }
    let _ = writeln!(h, "</tr>");
    for a in 0..m.areas() {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(&area_name(t, a, lang)));
        for &row in &years {
            let s = &t.agg.population[a * m.rows + row];
            let (lo, med, hi) = (s.quantile(P05, false), s.quantile(P50, false), s.quantile(P95, false));
            let _ = write!(h, "<td>{}<br><small>{}–{}</small></td>", grouped(med, 0), grouped(lo, 0), grouped(hi, 0));
        }
        let _ = writeln!(h, "</tr>");
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(
        h,
        "<p class=\"note\">{}</p>",
        lang.t(
            "Median, and below it the 90 % band (5th–95th percentile) across draws; population.csv p50, p05, p95.",
            "中位数，下方为各次抽样的 90% 区间（第5–95百分位）；取自 population.csv 的 p50、p05、p95。"
        )
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">{} {}</p>",
        esc(&info.footnote(lang)),
        lang.t(
            "All tables are in the CSV files beside this page; area ids: ",
            "完整数据见本页同目录下的 CSV 文件；地区代码："
        )
        .to_string()
            + &(0..m.areas()).map(|a| area_id(m, a).to_string()).collect::<Vec<_>>().join(", ")
    );
    h.push_str("</body>\n</html>\n");
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn escapes_and_case() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert_eq!(lower_first("Primary school places"), "primary school places");
        assert_eq!(lower_first("CHS stations"), "CHS stations");
        assert_eq!(lower_first("幼儿园学位"), "幼儿园学位");
    }
}
