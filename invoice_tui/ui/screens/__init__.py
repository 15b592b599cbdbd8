"""The app's screens: main, invoice detail, line detail, welcome, help and error modals."""
