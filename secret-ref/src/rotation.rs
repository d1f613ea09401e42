//! Rotation: secrets that follow their vault as it rotates them, as Kong's `secret-rotation`
//! timer does.
//!
//! [`Resolver::start_rotation`](crate::Resolver::start_rotation) runs a pass on a thread of its
//! own every interval; [`Resolver::refresh_all`](crate::Resolver::refresh_all) runs one now.
//! Each pass fetches again the cached secrets whose `ttl` ran out, and a changed value reaches
//! every [`Live`](crate::Live) secret that follows it (and the
//! [`on_change`](crate::ResolverBuilder::on_change) hook, with a [`Change`]).

pub use crate::resolver::rotation::{Change, Rotation, RotationReport};
