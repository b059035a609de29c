//! `resource.Quantity`'s canonical text (what its `MarshalJSON` prints): `0.5` is `500m`,
//! `2048Ki` is `2Mi`, `1000` is `1k`. Values finer than a nano are rounded up to one, as
//! `ParseQuantity` does; in a `ResourceList`, finer than a milli (the v1 defaults round
//! those up). Text that is not a quantity is returned unchanged (validation reports it
//! elsewhere).

#[derive(Clone, Copy, PartialEq)]
enum Format {
    DecimalSI,
    DecimalExponent,
    BinarySI,
}

/// The value as `sign * mantissa * 10^exp`, and the format its suffix asked for.
struct Parsed {
    negative: bool,
    mantissa: i128,
    exp: i32,
    format: Format,
}

fn parse(s: &str, min_exp: i32) -> Option<Parsed> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut mantissa: i128 = digits.parse().ok()?;
    let mut exp = -(frac.len() as i32);
    let format = match suffix {
        "" => Format::DecimalSI,
        "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => {
            exp += match suffix {
                "n" => -9,
                "u" => -6,
                "m" => -3,
                "k" => 3,
                "M" => 6,
                "G" => 9,
                "T" => 12,
                "P" => 15,
                _ => 18,
            };
            Format::DecimalSI
        }
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let power = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].iter().position(|x| *x == suffix)? as u32 + 1;
            mantissa = mantissa.checked_mul(1i128.checked_shl(10 * power)?)?;
            Format::BinarySI
        }
        e if e.starts_with(['e', 'E']) => {
            exp = exp.checked_add(e[1..].parse::<i32>().ok()?)?;
            Format::DecimalExponent
        }
        _ => return None,
    };
    // nothing finer than the smallest unit: round away from zero
    if exp < min_exp {
        let div = 10i128.checked_pow((min_exp - exp) as u32)?;
        mantissa = mantissa.checked_add(div - 1)? / div;
        exp = min_exp;
    }
    // a binary quantity below one is shown in decimal
    let format = if format == Format::BinarySI && exp < 0 && mantissa < 10i128.pow((-exp) as u32) { Format::DecimalSI } else { format };
    Some(Parsed { negative, mantissa, exp, format })
}

/// The canonical text of a quantity.
pub fn canonical(s: &str) -> String {
    canonical_rounded(s, -9)
}

/// The canonical text of a `ResourceList` value, rounded up to milli-units.
pub fn canonical_in_resource_list(s: &str) -> String {
    canonical_rounded(s, -3)
}

/// `Quantity.Cmp(...) == 0` for two canonical texts: `1Ki` and `1024` are the same amount.
pub fn same_value(a: &str, b: &str) -> bool {
    let normal = |s: &str| {
        parse(s, -9).map(|mut q| {
            if q.mantissa == 0 {
                return (false, 0, 0);
            }
            while q.mantissa % 10 == 0 {
                q.mantissa /= 10;
                q.exp += 1;
            }
            (q.negative, q.mantissa, q.exp)
        })
    };
    a == b || normal(a).is_some_and(|x| Some(x) == normal(b))
}

fn canonical_rounded(s: &str, min_exp: i32) -> String {
    let s = s.trim();
    let Some(mut q) = parse(s, min_exp) else { return s.to_string() };
    if q.mantissa == 0 {
        return "0".into();
    }
    let sign = if q.negative { "-" } else { "" };
    if q.format == Format::BinarySI {
        let integer = if q.exp >= 0 {
            10i128.checked_pow(q.exp as u32).and_then(|p| q.mantissa.checked_mul(p))
        } else {
            let p = 10i128.pow((-q.exp) as u32);
            (q.mantissa % p == 0).then(|| q.mantissa / p)
        };
        match integer {
            Some(mut n) if n >= 1024 => {
                let mut power = 0;
                while n % 1024 == 0 && power < 6 {
                    n /= 1024;
                    power += 1;
                }
                let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
                return format!("{sign}{n}{suffix}");
            }
            _ => q.format = Format::DecimalSI,
        }
    }
    while q.mantissa % 10 == 0 {
        q.mantissa /= 10;
        q.exp += 1;
    }
    // the exponent goes down to a multiple of three
    let extra = q.exp.rem_euclid(3);
    let Some(m) = q.mantissa.checked_mul(10i128.pow(extra as u32)) else { return s.to_string() };
    q.mantissa = m;
    q.exp -= extra;
    let suffix = match (q.format, q.exp) {
        (_, 0) => String::new(),
        (Format::DecimalSI, -9) => "n".into(),
        (Format::DecimalSI, -6) => "u".into(),
        (Format::DecimalSI, -3) => "m".into(),
        (Format::DecimalSI, 3) => "k".into(),
        (Format::DecimalSI, 6) => "M".into(),
        (Format::DecimalSI, 9) => "G".into(),
        (Format::DecimalSI, 12) => "T".into(),
        (Format::DecimalSI, 15) => "P".into(),
        (Format::DecimalSI, 18) => "E".into(),
        (_, e) => format!("e{e}"),
    };
    format!("{sign}{}{suffix}", q.mantissa)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_forms_match_go() {
        let cases = [
            ("0", "0"),
            ("0m", "0"),
            ("100m", "100m"),
            ("0.5", "500m"),
            ("1", "1"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("1.5Gi", "1536Mi"),
            ("2048Ki", "2Mi"),
            ("1Ki", "1Ki"),
            ("1000Mi", "1000Mi"),
            ("512", "512"),
            ("0.5Ki", "512"),
            ("1e3", "1e3"),
            ("12e2", "1200"),
            ("1.5e-3", "1500e-6"),
            ("0.1m", "100u"),
            ("1.0000000001", "1000000001n"),
            ("0.0000000001", "1n"),
            ("-250m", "-250m"),
            ("1G", "1G"),
            ("1000000k", "1G"),
            ("junk", "junk"),
            ("1e-2147483648", "1e-2147483648"),
            ("99999999999999999999999999999999999999e2", "99999999999999999999999999999999999999e2"),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input), want, "{input}");
        }
    }

    #[test]
    fn values_compare_across_formats() {
        let cases = [("1Ki", "1024", true), ("1k", "1e3", true), ("0", "0m", true), ("1Ki", "1k", false), ("-1", "1", false)];
        for (a, b, same) in cases {
            assert_eq!(super::same_value(a, b), same, "{a} {b}");
        }
    }

    #[test]
    fn resource_lists_round_up_to_milli() {
        let cases = [("0.1m", "1m"), ("1.0001", "1001m"), ("100m", "100m"), ("1Gi", "1Gi"), ("0.5", "500m")];
        for (input, want) in cases {
            assert_eq!(super::canonical_in_resource_list(input), want, "{input}");
        }
    }
}
