//! serde's rename rules (`#[serde(rename_all = "...")]`), applied to field names exactly as
//! serde applies them, so that the paths in errors name the keys a configuration file uses.
//! The same rules and names as serde_derive's `internals/case.rs`.

/// serde's rename rules, applied to field names as serde applies them.
#[derive(Clone, Copy)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    pub fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            _ => return None,
        })
    }

    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            RenameRule::Camel => {
                let pascal = RenameRule::Pascal.apply_to_field(field);
                let mut chars = pascal.chars();
                match chars.next() {
                    Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
                    None => pascal,
                }
            }
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RenameRule;

    /// serde_derive's own table for field names.
    #[test]
    fn fields_are_renamed_as_serde_does() {
        let cases = [
            // field, UPPERCASE, PascalCase, camelCase, SCREAMING_SNAKE, kebab, SCREAMING-KEBAB
            (
                "outcome", "OUTCOME", "Outcome", "outcome", "OUTCOME", "outcome", "OUTCOME",
            ),
            (
                "very_tasty",
                "VERY_TASTY",
                "VeryTasty",
                "veryTasty",
                "VERY_TASTY",
                "very-tasty",
                "VERY-TASTY",
            ),
            ("a", "A", "A", "a", "A", "a", "A"),
            ("z42", "Z42", "Z42", "z42", "Z42", "z42", "Z42"),
        ];
        for (original, upper, pascal, camel, screaming, kebab, screaming_kebab) in cases {
            let rule = |s: &str| RenameRule::from_str(s).unwrap();
            assert_eq!(rule("lowercase").apply_to_field(original), original);
            assert_eq!(rule("snake_case").apply_to_field(original), original);
            assert_eq!(rule("UPPERCASE").apply_to_field(original), upper);
            assert_eq!(rule("PascalCase").apply_to_field(original), pascal);
            assert_eq!(rule("camelCase").apply_to_field(original), camel);
            assert_eq!(
                rule("SCREAMING_SNAKE_CASE").apply_to_field(original),
                screaming
            );
            assert_eq!(rule("kebab-case").apply_to_field(original), kebab);
            assert_eq!(
                rule("SCREAMING-KEBAB-CASE").apply_to_field(original),
                screaming_kebab
            );
        }
        assert!(RenameRule::from_str("Train-Case").is_none());
    }
}
