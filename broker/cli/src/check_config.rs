//! `tongdao check-config`: parse the configuration and load everything it names, reporting
//! every problem at once.

use std::process::ExitCode;

use crate::{ConfigArg, EXIT_CONFIG};

pub(crate) fn run(args: &ConfigArg) -> ExitCode {
    let path = &args.config;
    let config = match tongdao_config::Config::load(path, std::env::vars()) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut problems = Vec::new();
    let mut sections = Vec::new();
    if let Some(broker) = &config.broker {
        sections.push("broker");
        if let Err(found) = tongdao_broker::Broker::from_config(broker) {
            problems.extend(found);
        }
    }
    if let Some(household) = &config.adapters.household {
        sections.push("adapters.household");
        if let Err(error) = tongdao_adapter_sdk::AdapterServer::new("household", &household.server)
        {
            problems.extend(
                error
                    .problems
                    .into_iter()
                    .map(|p| format!("adapters.household.{p}")),
            );
        }
        if let Err(error) = tongdao_adapter_household::load(&household.extract) {
            problems.push(format!("adapters.household.extract: {error}"));
        }
    }
    if sections.is_empty() {
        problems.push(
            "nothing to run: the file has neither [broker] nor [adapters.*] sections".to_owned(),
        );
    }
    if problems.is_empty() {
        println!("{}: OK ({})", path.display(), sections.join(", "));
        ExitCode::SUCCESS
    } else {
        eprintln!("{}: {} problem(s):", path.display(), problems.len());
        for problem in problems {
            eprintln!("  - {problem}");
        }
        ExitCode::from(EXIT_CONFIG)
    }
}
