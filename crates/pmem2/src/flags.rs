//! Flag sets with a small inherent surface.
//!
//! [`MemFlags`](crate::MemFlags) and [`Protection`](crate::Protection) are
//! `u32` newtypes implementing [`bitflags::Flags`], so the whole bitflags
//! API (`from_bits`, `iter`, `insert`, ...) is there with
//! `use bitflags::Flags`; inherently they offer only the constants,
//! `empty`, `contains` and `bits`, plus the `|`, `&`, `-` and `!`
//! operators. (`bitflags!` would add some twenty inherent methods to each.)

/// Defines a flag set: `flag_set! { /// docs  pub struct Name { /// docs  const A = 1; ... } }`.
macro_rules! flag_set {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* const $flag:ident = $value:expr; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(u32);

        impl $name {
            $( $(#[$fmeta])* pub const $flag: $name = $name($value); )*

            /// No flags.
            #[must_use]
            pub const fn empty() -> Self {
                $name(0)
            }

            /// Whether every flag of `other` is set in `self`.
            #[must_use]
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// The raw bits, as the C API takes them.
            #[must_use]
            pub const fn bits(self) -> u32 {
                self.0
            }
        }

        impl bitflags::Flags for $name {
            const FLAGS: &'static [bitflags::Flag<Self>] = &[
                $( bitflags::Flag::new(stringify!($flag), $name::$flag), )*
            ];
            type Bits = u32;
            fn bits(&self) -> u32 {
                self.0
            }
            fn from_bits_retain(bits: u32) -> Self {
                $name(bits)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                if self.0 == 0 {
                    f.write_str("empty")?;
                } else {
                    bitflags::parser::to_writer(self, &mut *f)?;
                }
                f.write_str(")")
            }
        }

        impl std::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                $name(self.0 | rhs.0)
            }
        }

        impl std::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl std::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                $name(self.0 & rhs.0)
            }
        }

        impl std::ops::Sub for $name {
            type Output = Self;
            /// The flags of `self` that are not in `rhs`.
            fn sub(self, rhs: Self) -> Self {
                $name(self.0 & !rhs.0)
            }
        }

        impl std::ops::Not for $name {
            type Output = Self;
            /// The known flags not in `self`.
            fn not(self) -> Self {
                $name(!self.0 & (0 $( | $value )*))
            }
        }
    };
}
pub(crate) use flag_set;

#[cfg(test)]
mod tests {
    use bitflags::Flags;

    flag_set! {
        /// Test flags.
        pub struct Demo {
            /// A.
            const A = 1;
            /// B.
            const B = 4;
        }
    }

    #[test]
    fn operators_and_bitflags_api() {
        let ab = Demo::A | Demo::B;
        assert!(ab.contains(Demo::A) && ab.contains(Demo::B));
        assert!(!Demo::A.contains(ab));
        assert_eq!(ab - Demo::A, Demo::B);
        assert_eq!(ab & Demo::B, Demo::B);
        assert_eq!(!Demo::A, Demo::B);
        assert_eq!(Demo::from_bits(5), Some(ab));
        assert_eq!(Demo::from_bits(2), None);
        assert!(ab.intersects(Demo::B));
        assert_eq!(format!("{ab:?}"), "Demo(A | B)");
        assert_eq!(format!("{:?}", Demo::empty()), "Demo(empty)");
        assert_eq!(Demo::from_bits_retain(7).bits(), 7);
    }
}
