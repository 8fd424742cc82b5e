//! Routes: list, look up (`ip route get`), add, replace, append, delete;
//! IPv4 and IPv6, every table, multipath with weights.
//!
//! ```no_run
//! use netns_core::{Handle, NextHopSpec, RouteSpec};
//! let h = Handle::new()?;
//! // ip route add default via 10.0.0.1
//! h.route_add(&RouteSpec::default_via("10.0.0.1".parse().unwrap()))?;
//! // ip route add 10.9.0.0/16 nexthop via 10.0.0.2 weight 2 nexthop via 10.0.0.3
//! h.route_add(
//!     &RouteSpec::new("10.9.0.0/16".parse()?)
//!         .nexthop(NextHopSpec::via("10.0.0.2".parse().unwrap()).weight(2))
//!         .nexthop(NextHopSpec::via("10.0.0.3".parse().unwrap())),
//! )?;
//! let r = h.route_get("10.9.1.1".parse().unwrap())?; // ip route get 10.9.1.1
//! println!("{r}"); // 10.9.1.1 via 10.0.0.2 dev if2 src 10.0.0.5
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Defaults
//!
//! A [`RouteSpec`] mirrors `ip route add`: table `main` (`local` for the
//! `local`, `broadcast`, `anycast` and `nat` types), protocol `boot`, type
//! `unicast`, and iproute2's scope rule (`host` for local routes, `link` for
//! IPv4 unicast routes with neither gateway nor nexthops, `link` for
//! broadcast/multicast/anycast, else `global`). For a delete, every unset
//! field is a wildcard, as with `ip route del`.
//!
//! A destination with host bits set (`10.0.0.1/24`) is refused before
//! anything is sent, for both families: the kernel refuses it for IPv4
//! ("Invalid prefix for given prefix length") but silently masks it for IPv6.
//!
//! # References
//! [ip-route(8)](https://man7.org/linux/man-pages/man8/ip-route.8.html),
//! [rtnetlink(7)](https://man7.org/linux/man-pages/man7/rtnetlink.7.html),
//! linux/rtnetlink.h, net/ipv4/fib_frontend.c, net/ipv6/route.c.

use std::net::IpAddr;

use netlink_packet_route::route::{RouteAttribute, RouteHeader, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, ErrorKind, Result};
use crate::ip::IpFamily;
use crate::socket::{Reply, Verb};
use crate::{Batch, Handle};

mod types;
mod wire;

pub use types::{
    NextHop, NextHopSpec, Route, RouteFilter, RouteFlags, RouteProtocol, RouteSpec, RouteType,
    TABLE_DEFAULT, TABLE_LOCAL, TABLE_MAIN,
};
pub(crate) use wire::parse_route;
use wire::{build_get, build_route, validate_route, RouteLinks, RTM_NEWROUTE};

impl Handle {
    /// Validate, resolve and build a route request.
    fn route_request(&self, op: &'static str, spec: &RouteSpec, del: bool) -> Result<RouteMessage> {
        validate_route(op, spec, del)?;
        let object = spec.object();
        let link = spec
            .link
            .as_ref()
            .map(|d| self.resolve_link(op, &object, "device", d))
            .transpose()?;
        let nexthops = spec
            .nexthops
            .iter()
            .map(|nh| {
                nh.link
                    .as_ref()
                    .map(|d| self.resolve_link(op, &object, "device", d))
                    .transpose()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(build_route(spec, &RouteLinks { link, nexthops }, del))
    }

    fn route_send(&self, op: &'static str, spec: &RouteSpec, verb: Verb) -> Result<()> {
        let del = verb == Verb::Del;
        let m = self.route_request(op, spec, del)?;
        let m = if del {
            RouteNetlinkMessage::DelRoute(m)
        } else {
            RouteNetlinkMessage::NewRoute(m)
        };
        self.sock().ack(op, &spec.object(), m, verb)
    }

    /// Add a route. The spec is checked and the devices looked up first: a
    /// bad argument (host bits in the destination, a gateway of the other
    /// family, a weight out of range...) or an unknown device is reported
    /// before anything is sent. A route that exists is an error with
    /// `is_exists()`.
    ///
    /// Equivalent to `ip route add [TYPE] DST [via GW] [dev LINK] [src ADDR]
    /// [metric N] [table ID] [scope S] [proto P] [onlink]
    /// [nexthop via GW dev LINK weight W ...]`.
    #[doc(alias = "ip route add")]
    #[doc(alias = "RTM_NEWROUTE")]
    pub fn route_add(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_add", spec, Verb::Add)
    }

    /// Add a route or replace the one with the same destination, table,
    /// metric (and TOS).
    ///
    /// Equivalent to `ip route replace ...`.
    #[doc(alias = "ip route replace")]
    #[doc(alias = "RTM_NEWROUTE")]
    pub fn route_replace(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_replace", spec, Verb::Replace)
    }

    /// Add a route next to existing ones with the same destination (for
    /// IPv6, a new path of a multipath route).
    ///
    /// Equivalent to `ip route append ...`.
    #[doc(alias = "ip route append")]
    #[doc(alias = "RTM_NEWROUTE")]
    pub fn route_append(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_append", spec, Verb::Append)
    }

    /// Delete a route. Unset fields are wildcards (type, protocol, scope,
    /// gateway, device, metric); the table is `main` unless set. A missing
    /// route is an error with `is_not_found()`.
    ///
    /// Equivalent to `ip route del DST [via GW] [dev LINK] [metric N]
    /// [table ID] ...`.
    #[doc(alias = "ip route del")]
    #[doc(alias = "RTM_DELROUTE")]
    pub fn route_del(&self, spec: &RouteSpec) -> Result<()> {
        self.route_send("route_del", spec, Verb::Del)
    }

    /// The routes of the namespace, filtered by the kernel by family, table
    /// and output link (a strict dump request with RTA_TABLE / RTA_OIF).
    /// Every table unless `filter.table` says one. A table that does not
    /// exist has no routes: the kernel's ENOENT ("FIB table does not exist")
    /// is returned as an empty list.
    ///
    /// Equivalent to `ip [-4|-6] route show table all|ID [dev LINK]`.
    #[doc(alias = "ip route show")]
    #[doc(alias = "RTM_GETROUTE")]
    pub fn routes(&self, filter: &RouteFilter) -> Result<Vec<Route>> {
        const OP: &str = "routes";
        let mut object = match filter.table {
            Some(t) => format!("table {t}"),
            None => "table all".to_owned(),
        };
        if let Some(l) = &filter.link {
            object.push_str(&format!(" dev {l}"));
        }
        let mut req = RouteMessage::default();
        req.header.address_family = filter
            .family
            .map(IpFamily::nl)
            .unwrap_or(AddressFamily::Unspec);
        if let Some(t) = filter.table {
            if t == 0 {
                return Err(Error::invalid(
                    OP,
                    object,
                    "table 0 is RT_TABLE_UNSPEC, not a table",
                ));
            }
            req.header.table = u8::try_from(t).unwrap_or(RouteHeader::RT_TABLE_UNSPEC);
            req.attributes.push(RouteAttribute::Table(t));
        }
        if let Some(l) = &filter.link {
            let i = self.resolve_link(OP, &object, "device", l)?;
            req.attributes.push(RouteAttribute::Oif(i));
        }
        let res = self.sock().dump(
            OP,
            &object,
            RouteNetlinkMessage::GetRoute(req),
            |r: Reply<'_>| {
                if r.message_type != RTM_NEWROUTE {
                    return Ok(None);
                }
                parse_route(r.payload).map_err(|d| Error::protocol(OP, object.clone(), d))
            },
        );
        match res {
            Err(e)
                if filter.table.is_some()
                    && matches!(
                        e.kind(),
                        ErrorKind::Kernel {
                            errno: libc::ENOENT,
                            ..
                        }
                    ) =>
            {
                Ok(Vec::new())
            }
            other => other,
        }
    }

    /// The route the kernel would use to reach `dst`, with the output
    /// device, gateway and preferred source it picked. An unreachable
    /// destination is the kernel's error (ENETUNREACH...).
    ///
    /// Equivalent to `ip route get ADDR`.
    #[doc(alias = "ip route get")]
    #[doc(alias = "RTM_GETROUTE")]
    pub fn route_get(&self, dst: IpAddr) -> Result<Route> {
        const OP: &str = "route_get";
        self.sock().get(
            OP,
            &dst,
            RouteNetlinkMessage::GetRoute(build_get(dst)),
            |r: Reply<'_>| {
                if r.message_type != RTM_NEWROUTE {
                    return Err(Error::protocol(OP, dst.to_string(), "not a route message"));
                }
                parse_route(r.payload)
                    .map_err(|d| Error::protocol(OP, dst.to_string(), d))?
                    .ok_or_else(|| Error::protocol(OP, dst.to_string(), "reply of another family"))
            },
        )
    }
}

impl Batch<'_> {
    fn route_push(&mut self, op: &'static str, spec: &RouteSpec, verb: Verb) -> &mut Self {
        let del = verb == Verb::Del;
        let built = self.handle.route_request(op, spec, del).map(|m| {
            let m = if del {
                RouteNetlinkMessage::DelRoute(m)
            } else {
                RouteNetlinkMessage::NewRoute(m)
            };
            (m, verb)
        });
        self.push(op, spec.object().to_string(), built)
    }

    /// Queue [`Handle::route_add`]. Devices given by name are looked up now,
    /// one request each: give indices for large batches.
    pub fn route_add(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_add", spec, Verb::Add)
    }

    /// Queue [`Handle::route_replace`].
    pub fn route_replace(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_replace", spec, Verb::Replace)
    }

    /// Queue [`Handle::route_append`].
    pub fn route_append(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_append", spec, Verb::Append)
    }

    /// Queue [`Handle::route_del`].
    pub fn route_del(&mut self, spec: &RouteSpec) -> &mut Self {
        self.route_push("route_del", spec, Verb::Del)
    }
}
