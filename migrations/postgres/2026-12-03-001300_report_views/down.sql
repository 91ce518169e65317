DROP TABLE report_views;
