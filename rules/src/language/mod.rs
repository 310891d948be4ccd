//! The rule language: the one Rhai [`engine`], what `rule()` and `settings()` say ([`spec`],
//! [`settings`]), content [`template`]s, static [`analysis`] of scripts, [`diagnostic`]s at
//! `file:line:col`, compiling a [`rulebook`] (with its compile-time lint) and its
//! [`outline`]. It reads the visitor model; it never decides.

pub mod analysis;
pub mod changes;
pub mod diagnostic;
pub mod engine;
pub(crate) mod fields;
pub mod outline;
pub mod rulebook;
pub mod settings;
pub mod spec;
pub mod strategies;
pub mod template;
