//! The dashboard's key bindings: one key press, one change to the [`App`].
//!
//! | keys | browsing | typing a filter (after `/`) |
//! | --- | --- | --- |
//! | `q`, Ctrl-C | quit | Ctrl-C quits; `q` is typed |
//! | ↑ ↓, `k` `j` | move | ↑ ↓ move; letters are typed |
//! | PgUp PgDn, Ctrl-B Ctrl-F | a screen up, down | the same |
//! | Home End, `g` `G` | first, last host | Home End |
//! | `/` | type a filter | |
//! | Enter | | keep the filter |
//! | Esc | drop the filter | drop the filter |
//! | Backspace | | delete a character |
//! | `s` | next order (status, label, latency) | |
//! | `r` | refresh now | |

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Mode};

/// The bindings in one line, for the status bar.
pub const HINTS: &str =
    "↑↓/jk move · PgUp/PgDn · Home/End · / filter · s sort · r refresh · q quit";

/// Applies one key press to the app. Key releases (which some terminals report) are ignored,
/// so a key acts once; a held key repeats.
pub fn handle(app: &mut App, key: KeyEvent) {
    if key.kind == KeyEventKind::Release {
        return;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c')) {
        app.request_quit();
        return;
    }
    // Keys that mean the same whether or not a filter is being typed.
    match (key.code, ctrl) {
        (KeyCode::Up, _) => return app.move_by(-1),
        (KeyCode::Down, _) => return app.move_by(1),
        (KeyCode::PageUp, _) | (KeyCode::Char('b'), true) => return app.page_up(),
        (KeyCode::PageDown, _) | (KeyCode::Char('f'), true) => return app.page_down(),
        (KeyCode::Home, _) => return app.first(),
        (KeyCode::End, _) => return app.last(),
        (KeyCode::Esc, _) => return app.clear_filter(),
        _ => {}
    }
    match app.mode() {
        Mode::Filter => match key.code {
            KeyCode::Enter => app.accept_filter(),
            KeyCode::Backspace => app.pop_filter(),
            KeyCode::Char(c) if !ctrl => app.push_filter(c),
            _ => {}
        },
        Mode::Browse if ctrl => {}
        Mode::Browse => match key.code {
            KeyCode::Char('q') => app.request_quit(),
            KeyCode::Char('j') => app.move_by(1),
            KeyCode::Char('k') => app.move_by(-1),
            KeyCode::Char('g') => app.first(),
            KeyCode::Char('G') => app.last(),
            KeyCode::Char('/') => app.start_filter(),
            KeyCode::Char('s') => app.cycle_sort(),
            KeyCode::Char('r') => app.request_refresh(),
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use flowstate_actors::model::Status;

    use super::*;
    use crate::tui::app::tests::{host, now};
    use crate::tui::sort::SortKey;

    fn press(app: &mut App, code: KeyCode) {
        handle(app, KeyEvent::new(code, KeyModifiers::NONE));
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    fn app() -> App {
        let mut app = App::new("http://127.0.0.1:9900");
        app.set_viewport(2);
        let hosts = ["alpha", "beta", "gamma", "delta", "echo"]
            .iter()
            .map(|l| host(l, Status::Up, Some(1.0)))
            .collect();
        app.set_hosts(hosts, now());
        app
    }

    #[test]
    fn j_k_and_arrows_move() {
        let mut app = app();
        press(&mut app, KeyCode::Char('j'));
        press(&mut app, KeyCode::Down);
        assert_eq!(app.selected_label(), Some("delta"));
        press(&mut app, KeyCode::Char('k'));
        assert_eq!(app.selected_label(), Some("beta"));
        press(&mut app, KeyCode::Up);
        assert_eq!(app.selected_label(), Some("alpha"));
    }

    #[test]
    fn paging_and_both_ends() {
        let mut app = app();
        press(&mut app, KeyCode::PageDown);
        assert_eq!(app.selected(), Some(2));
        handle(
            &mut app,
            KeyEvent::new(KeyCode::Char('f'), KeyModifiers::CONTROL),
        );
        assert_eq!(app.selected(), Some(4));
        press(&mut app, KeyCode::PageUp);
        assert_eq!(app.selected(), Some(2));
        press(&mut app, KeyCode::Home);
        assert_eq!(app.selected(), Some(0));
        press(&mut app, KeyCode::End);
        assert_eq!(app.selected(), Some(4));
        press(&mut app, KeyCode::Char('g'));
        assert_eq!(app.selected(), Some(0));
        press(&mut app, KeyCode::Char('G'));
        assert_eq!(app.selected(), Some(4));
    }

    #[test]
    fn slash_types_a_filter_where_letters_are_not_commands() {
        let mut app = app();
        press(&mut app, KeyCode::Char('/'));
        assert_eq!(app.mode(), Mode::Filter);
        // `j`, `s` and `q` are part of the filter now, not moves, orders or quitting.
        typed(&mut app, "jsq");
        assert_eq!(app.filter(), "jsq");
        assert!(!app.should_quit());
        assert_eq!(app.sort(), SortKey::Status);
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Backspace);
        press(&mut app, KeyCode::Backspace);
        typed(&mut app, "ta");
        assert_eq!(app.shown(), 2); // beta, delta
        press(&mut app, KeyCode::Down);
        assert_eq!(app.selected_label(), Some("delta"));
        press(&mut app, KeyCode::Enter);
        assert_eq!((app.mode(), app.filter()), (Mode::Browse, "ta"));
        press(&mut app, KeyCode::Char('k'));
        assert_eq!(app.selected_label(), Some("beta"));
        press(&mut app, KeyCode::Esc);
        assert_eq!((app.filter(), app.shown()), ("", 5));
        assert_eq!(app.selected_label(), Some("beta"));
    }

    #[test]
    fn esc_while_typing_drops_the_filter() {
        let mut app = app();
        typed(&mut app, "/al");
        assert_eq!(app.shown(), 1);
        press(&mut app, KeyCode::Esc);
        assert_eq!(
            (app.mode(), app.filter(), app.shown()),
            (Mode::Browse, "", 5)
        );
    }

    #[test]
    fn s_changes_the_order_and_r_asks_for_a_refresh() {
        let mut app = app();
        press(&mut app, KeyCode::Char('s'));
        assert_eq!(app.sort(), SortKey::Label);
        assert!(!app.take_refresh_request());
        press(&mut app, KeyCode::Char('r'));
        assert!(app.take_refresh_request());
        assert!(!app.take_refresh_request());
    }

    #[test]
    fn q_and_ctrl_c_quit() {
        let mut app = app();
        press(&mut app, KeyCode::Char('q'));
        assert!(app.should_quit());

        let mut app = self::app();
        typed(&mut app, "/x");
        handle(
            &mut app,
            KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        );
        assert!(app.should_quit());
        assert_eq!(app.filter(), "x");
    }

    #[test]
    fn key_releases_do_nothing() {
        let mut app = app();
        let mut release = KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        handle(&mut app, release);
        assert_eq!(app.selected(), Some(0));
    }
}
