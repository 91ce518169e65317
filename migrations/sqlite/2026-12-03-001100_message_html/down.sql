DROP TABLE message_html;
