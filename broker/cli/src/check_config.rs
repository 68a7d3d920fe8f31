//! `tongdao check-config`: parse the configuration and load everything it names, reporting
//! every problem at once.

use std::process::ExitCode;

use crate::{ConfigArg, EXIT_CONFIG, adapter_cmd::AdapterKind};

pub(crate) async fn run(args: &ConfigArg) -> ExitCode {
    let path = &args.config;
    let config = match tongdao_config::Config::load(path, std::env::vars()) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut problems = Vec::new();
    let mut sections: Vec<String> = Vec::new();
    if let Some(broker) = &config.broker {
        sections.push("broker".to_owned());
        if let Err(found) = tongdao_broker::Broker::from_config(broker) {
            problems.extend(found);
        }
    }
    for kind in AdapterKind::ALL {
        if kind.listen_addr(&config).is_none() {
            continue;
        }
        let section = format!("adapters.{}", kind.name());
        // Building an adapter loads its certificates and opens its source (reads the files,
        // connects to the database or service): what starting it would do.
        if let Err(error) = crate::adapter_cmd::build(kind, &config).await {
            problems.push(format!("{section}: {error}"));
        }
        sections.push(section);
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
