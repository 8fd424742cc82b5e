//! The one macro for the library's named values, so that the names of a
//! value (`ip`'s spelling), its `Display` and its `FromStr` are written once.
//!
//! Two shapes:
//!
//! - `named! { enum Name { Variant = "text", ... } }`: a closed set, such as
//!   a link mode (`MacVlanMode::Bridge` is `bridge`). Anything else fails to
//!   parse.
//! - `named! { struct Name(u8) { CONST = 3 => "text" | "alias", ... } }`: an
//!   open set of kernel numbers, some of which have names (`RouteProtocol`:
//!   3 is `boot`, 186 is `bgp`, 77 is just `77`). Shown by name when it has
//!   one, else as the number; parsed from any of its names or a number.
//!
//! Both get `name()` (the text) and `NAMES` (every value with its name, in
//! the order written), `Display` and `FromStr`. A parse error is an
//! invalid-argument [`Error`](crate::Error) of operation `parse` listing what
//! is accepted. With `text = custom` after the struct's name, `Display` and
//! `FromStr` are left to the type (for the neighbour states, which are bits).

/// See the module docs.
macro_rules! named {
    (
        $(#[$m:meta])*
        enum $name:ident {
            $($(#[$vm:meta])* $var:ident = $s:literal),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every value with its name, in order.
            pub const NAMES: &'static [($name, &'static str)] = &[$(($name::$var, $s)),+];

            /// The name, as `ip` spells it.
            pub const fn name(self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                match s {
                    $($s => Ok($name::$var),)+
                    _ => Err($crate::Error::invalid(
                        "parse",
                        s,
                        concat!(stringify!($name), ": expected one of:" $(, " ", $s)+),
                    )),
                }
            }
        }
    };

    (
        $(#[$m:meta])*
        struct $name:ident($int:ty) $(text = $custom:ident)? {
            $($(#[$vm:meta])* $var:ident = $val:literal => $s:literal $(| $alias:literal)*),+ $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
        pub struct $name(pub $int);

        impl $name {
            $($(#[$vm])* pub const $var: $name = $name($val);)+

            /// Every named value with its name, in order.
            pub const NAMES: &'static [($name, &'static str)] = &[$(($name($val), $s)),+];

            /// The name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($s),)+
                    _ => None,
                }
            }

            /// The value of a name (or of one of its aliases).
            pub fn from_name(s: &str) -> Option<$name> {
                match s {
                    $($s $(| $alias)* => Some($name($val)),)+
                    _ => None,
                }
            }
        }

        named!(@text $name, $int $(, $custom)?; $($s),+);
    };

    (@text $name:ident, $int:ty, custom; $($s:literal),+) => {};
    (@text $name:ident, $int:ty; $($s:literal),+) => {
        impl std::fmt::Display for $name {
            /// The name, or the number if it has none.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}", self.0),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            /// A name as `ip` spells it, or a number.
            fn from_str(s: &str) -> $crate::Result<Self> {
                if let Some(v) = $name::from_name(s) {
                    return Ok(v);
                }
                s.parse::<$int>().map($name).map_err(|_| {
                    $crate::Error::invalid(
                        "parse",
                        s,
                        concat!(
                            stringify!($name), ": expected one of:" $(, " ", $s)+,
                            " or a number"
                        ),
                    )
                })
            }
        }
    };
}

/// The names of the bits of `bits` set, from a table in display order.
pub(crate) fn bit_names<T: Copy + PartialEq + std::ops::BitAnd<Output = T> + Default>(
    bits: T,
    table: &[(T, &'static str)],
) -> Vec<&'static str> {
    table
        .iter()
        .filter(|(b, _)| bits & *b != T::default())
        .map(|(_, n)| *n)
        .collect()
}
