DROP TABLE user_prefs;
DROP TABLE watchers;
DROP TABLE notifications;
