//! Operating-system specifics. Only Linux is supported, as in PMDK 2.x.

pub mod linux;
