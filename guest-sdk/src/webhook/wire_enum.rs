//! `wire_enum!`: string enums of the webhook model that keep values they do not know.
//!
//! Each generated enum has one variant per documented wire value plus `Other(String)`, which holds
//! any other value exactly as sent, so a new status or type from Vonage never makes parsing fail and
//! serializes back unchanged. Optionally a prefixed family (`custom:<name>`) gets its own variant.

/// Defines a string enum with `as_str`, `From<&str>`, `From<String>`, `Display`, `Serialize` and
/// `Deserialize`. Unknown values become `Other(String)`.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )*
        }
        $( prefixed: $(#[$pmeta:meta])* $pvariant:ident => $prefix:literal, )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant, )*
            $( $(#[$pmeta])* $pvariant(String), )?
            /// A value this model does not know, kept exactly as it was sent.
            Other(String),
        }

        impl $name {
            /// The value as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )*
                    $( $name::$pvariant(s) => s, )?
                    $name::Other(s) => s,
                }
            }

            /// True when the value is one this model does not know (`Other`).
            pub fn is_other(&self) -> bool {
                matches!(self, $name::Other(_))
            }

            /// Every documented wire value, in declaration order.
            pub const KNOWN: &'static [&'static str] = &[$( $wire, )*];
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )*
                    $( s if s.starts_with($prefix) => $name::$pvariant(s.to_owned()), )?
                    s => $name::Other(s.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $( $wire => $name::$variant, )*
                    $( x if x.starts_with($prefix) => $name::$pvariant(s), )?
                    _ => $name::Other(s),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map($name::from)
            }
        }
    };
}
