//! The language of charts and the HTML page (`--lang en|zh`), and number formatting for
//! readers: thousands separators, probabilities with two decimals. File names never change
//! with the language; scenario names come from the scenario's `{ en, zh }` pairs.

/// The language of chart titles, labels and findings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// The code used with [`crate::scenario::Names::get`].
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// Picks the string of this language.
    pub fn t<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// The separator between a name and a qualifier ("North — primary places").
    pub fn dash(self) -> &'static str {
        self.t(" — ", "—")
    }
}

/// `v` with `dp` decimals and a comma every three digits (`1,234,567.8`); never `-0`.
pub fn grouped(v: f64, dp: usize) -> String {
    let s = crate::report::tables::fixed(v, dp);
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut out = String::with_capacity(s.len() + int.len() / 3);
    out.push_str(sign);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// An amount for prose and labels: whole numbers from 100 up, one decimal from 10, two below.
pub fn amount(v: f64) -> String {
    let a = v.abs();
    let dp = if a >= 99.95 {
        0
    } else if a >= 9.995 {
        1
    } else {
        2
    };
    let s = grouped(v, dp);
    // Trailing zeros add nothing: "12.0" reads as 12, "2.50" as 2.5.
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// A probability with two decimals (`0.63`); `<0.01` and `>0.99` where rounding would hide
/// that some draws (or not all) fall short.
pub fn prob(p: f64) -> String {
    if p > 0.0 && p < 0.005 {
        "<0.01".into()
    } else if (0.995..1.0).contains(&p) {
        ">0.99".into()
    } else {
        crate::report::tables::fixed(p, 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(grouped(1234567.0, 0), "1,234,567");
        assert_eq!(grouped(999.0, 0), "999");
        assert_eq!(grouped(1000.0, 0), "1,000");
        assert_eq!(grouped(-12345.678, 1), "-12,345.7");
        assert_eq!(grouped(-0.01, 1), "0.0");
        assert_eq!(grouped(100000.0, 0), "100,000");
    }

    #[test]
    fn amounts_and_probabilities() {
        assert_eq!(amount(1900.0), "1,900");
        assert_eq!(amount(1899.6), "1,900");
        assert_eq!(amount(12.34), "12.3");
        assert_eq!(amount(12.0), "12");
        assert_eq!(amount(2.5), "2.5");
        assert_eq!(amount(0.0), "0");
        assert_eq!(prob(0.6312), "0.63");
        assert_eq!(prob(0.001), "<0.01");
        assert_eq!(prob(0.0), "0.00");
        assert_eq!(prob(1.0), "1.00");
        assert_eq!(prob(0.996), ">0.99");
    }
}
