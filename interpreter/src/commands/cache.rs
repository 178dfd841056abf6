//! `plan cache ls | show KEY | prune`: the step cache's entries, one entry whole, and
//! making room (by age of last use, then least recently used first).

use std::path::PathBuf;

use crate::error::Error;
use crate::store::cache::{Cache, Lookup};

#[derive(clap::Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub what: CacheCommand,
    /// The step cache's directory.
    #[arg(long, value_name = "DIR", default_value = crate::store::cache::DEFAULT_DIR, env = "PLAN_CACHE_DIR", global = true)]
    pub cache_dir: PathBuf,
}

#[derive(clap::Subcommand, Debug)]
pub enum CacheCommand {
    /// Every entry: key, agent, plan, size, when it was last used.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// One entry: what its key was made of, its output, its change, what it had spent.
    Show { key: String },
    /// Removes entries not used for `--older-than`, then the least recently used until
    /// the rest fit in `--max-size`.
    Prune {
        /// e.g. `30d`, `12h`.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// e.g. `5GiB`, `500MiB`.
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
}

pub fn run(args: &CacheArgs) -> Result<(), Error> {
    let cache = Cache::at(&args.cache_dir);
    match &args.what {
        CacheCommand::Ls { json } => {
            let entries: Vec<_> = cache.list().into_iter().map(|(l, _)| l).collect();
            if *json {
                println!("{}", serde_json::to_string_pretty(&entries).unwrap_or_default());
                return Ok(());
            }
            let total: u64 = entries.iter().map(|e| e.bytes).sum();
            for e in entries.iter().rev() {
                println!(
                    "{}  {:<20}  {:<24}  {:>9}  used {}",
                    &e.key[..16.min(e.key.len())],
                    e.agent,
                    e.plan,
                    size(e.bytes),
                    ago(e.used)
                );
            }
            println!("{} entries, {} in {}", entries.len(), size(total), args.cache_dir.display());
            Ok(())
        }
        CacheCommand::Show { key } => {
            let full = if key.len() == 64 {
                key.clone()
            } else {
                let found: Vec<String> =
                    cache.list().into_iter().map(|(l, _)| l.key).filter(|k| k.starts_with(key.as_str())).collect();
                match found.as_slice() {
                    [one] => one.clone(),
                    [] => return Err(Error::refused(format!("no entry `{key}` in {}", args.cache_dir.display()))),
                    _ => {
                        return Err(Error::Usage(format!(
                            "`{key}` names {} entries: give more of the key",
                            found.len()
                        )))
                    }
                }
            };
            match cache.get(&full) {
                Lookup::Hit(e) => {
                    println!("{}", serde_json::to_string_pretty(&*e).unwrap_or_default());
                    Ok(())
                }
                Lookup::Miss => Err(Error::refused(format!("no entry `{key}` in {}", args.cache_dir.display()))),
                Lookup::Damaged(why) => Err(Error::refused(format!("the entry is damaged: {why}"))),
            }
        }
        CacheCommand::Prune { older_than, max_size } => {
            let age = older_than
                .as_deref()
                .map(|a| a.parse::<plan_schema::Duration>().map(|d| d.as_std()))
                .transpose()
                .map_err(|e| Error::Usage(format!("--older-than: {e} (e.g. 30d, 12h)")))?;
            let bytes = max_size
                .as_deref()
                .map(|m| {
                    plan_schema::parse_memory(m)
                        .ok_or_else(|| Error::Usage(format!("--max-size: `{m}` is not a size (e.g. 5GiB)")))
                })
                .transpose()?;
            if age.is_none() && bytes.is_none() {
                return Err(Error::Usage("say what to prune: --older-than AGE and/or --max-size SIZE".into()));
            }
            let (removed, freed) = cache.prune(age, bytes);
            println!("removed {removed} entries, {} freed", size(freed));
            Ok(())
        }
    }
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

fn ago(secs: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match now.saturating_sub(secs) {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}
