"""The console's views: batches, error reports, runs, settings."""

from gui.views.settings_dialog import SettingsDialog as SettingsDialog
