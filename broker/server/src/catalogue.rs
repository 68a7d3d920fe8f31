//! The methods on the bus: every domain method the schemas define, with the adapter route that
//! serves it. Built once at start-up; resolving a path is one hash lookup.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use prost_reflect::{MethodDescriptor, ServiceDescriptor};
use tongdao_core::{Reason, Rejection};
use tongdao_schemas::descriptors;

use crate::forward::{Route, Routes};

/// A domain method and where it is served.
#[derive(Debug)]
pub(crate) struct Method {
    /// `/package.Service/Method`.
    pub path: String,
    /// The service it belongs to.
    pub service: ServiceDescriptor,
    /// Its descriptor: input and output types.
    pub descriptor: MethodDescriptor,
    /// The adapters serving its package, if any are configured.
    pub route: Option<Arc<Route>>,
}

/// Every domain method by path.
#[derive(Debug, Default)]
pub(crate) struct Catalogue {
    methods: HashMap<String, Arc<Method>>,
    services: HashSet<String>,
}

impl Catalogue {
    /// Indexes every domain method of the compiled schemas against the configured routes.
    pub(crate) fn new(routes: &Routes) -> Self {
        let mut catalogue = Self::default();
        for service in descriptors::domain_services() {
            catalogue.services.insert(service.full_name().to_owned());
            let route = routes.for_package(service.package_name());
            for method in service.methods() {
                let path = format!("/{}/{}", service.full_name(), method.name());
                let entry = Method {
                    path: path.clone(),
                    service: service.clone(),
                    descriptor: method,
                    route: route.clone(),
                };
                catalogue.methods.insert(path, Arc::new(entry));
            }
        }
        catalogue
    }

    /// The method at `path`, or why there is none: an unknown service, or a known service
    /// without that method.
    pub(crate) fn resolve(&self, path: &str) -> Result<Arc<Method>, Rejection> {
        if let Some(method) = self.methods.get(path) {
            return Ok(method.clone());
        }
        let service = path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        if self.services.contains(service) {
            Err(Rejection::new(
                Reason::MethodUnknown,
                format!(
                    "service {service} has no such method; list methods with the Directory API or server reflection"
                ),
            ))
        } else {
            Err(Rejection::new(
                Reason::ServiceUnknown,
                "no such service on the bus; list services with tongdao.v1.Directory/ListServices",
            ))
        }
    }

    /// Every method, in no particular order.
    pub(crate) fn methods(&self) -> impl Iterator<Item = &Arc<Method>> {
        self.methods.values()
    }
}
