//! `pesto tasks`: the task families with their keys, the aliases, and the built-in suites.

use clap::Args;
use pesto_tasks::{Suite, registry};

/// Lists task families (keys, defaults, valid values), aliases and suite members.
#[derive(Debug, Args)]
pub struct TasksArgs {}

/// Prints the listing.
pub fn run(_: TasksArgs) -> anyhow::Result<()> {
    println!("Task families (write tasks as FAMILY[:key=value,...]):");
    for family in registry::families() {
        println!("\n  {:<14} {}", family.name(), family.description());
        for key in family.keys() {
            println!(
                "    {:<9} {:<50} default {:<6} {}",
                key.name, key.description, key.default, key.valid
            );
        }
    }
    println!("\nAliases:");
    for alias in registry::aliases() {
        let config: Vec<String> = alias.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "  {} = {}:{}  ({})",
            alias.name,
            alias.family,
            config.join(","),
            alias.description
        );
    }
    for name in Suite::names() {
        let suite = Suite::named(name)?;
        println!("\nSuite `{name}`: {}", suite.description());
        for spec in suite.members() {
            let params = registry::build(&spec)?.layout().len();
            println!("  {:>7} params  seed {:<15} {spec}", params, spec.seed);
        }
    }
    Ok(())
}
